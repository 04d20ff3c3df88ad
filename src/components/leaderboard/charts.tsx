"use client";
// Ratings with their bootstrap intervals (a floating bar from the 2.5% to the 97.5% quantile,
// with a point at the fitted rating: error bars without a chart.js plugin) and ratings over time.
import {
  BarController,
  BarElement,
  CategoryScale,
  type ChartData,
  Chart as ChartJS,
  type ChartOptions,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { Chart, Line } from "react-chartjs-2";
import { colorOf } from "./colors";

ChartJS.register(BarController, LineController, BarElement, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend);

export interface IntervalRow {
  model: string;
  rating: number;
  ci: [number, number];
}

export function RatingIntervalChart({ rows }: { rows: IntervalRow[] }) {
  const data = {
    labels: rows.map((r) => r.model),
    datasets: [
      {
        type: "bar" as const,
        label: "95% interval",
        data: rows.map((r) => r.ci),
        backgroundColor: "rgba(79, 70, 229, 0.25)",
        borderColor: "#4f46e5",
        borderWidth: 1,
        barPercentage: 0.5,
      },
      {
        type: "line" as const,
        label: "Rating",
        data: rows.map((r) => r.rating),
        showLine: false,
        pointRadius: 5,
        pointBackgroundColor: "#1e1b4b",
        borderColor: "#1e1b4b",
      },
    ],
  } as unknown as ChartData<"bar", (number | [number, number])[], string>;
  const options: ChartOptions<"bar"> = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    // Bars start at zero by default, which squeezes intervals a few points wide into slivers.
    scales: { y: { beginAtZero: false, grace: "5%", title: { display: true, text: "Bradley–Terry rating" } } },
    plugins: {
      legend: { position: "bottom" },
      tooltip: {
        callbacks: {
          label: (ctx) => {
            const raw = ctx.raw as number | [number, number];
            return Array.isArray(raw) ? `95% interval ${raw[0].toFixed(0)} – ${raw[1].toFixed(0)}` : `rating ${raw.toFixed(1)}`;
          },
        },
      },
    },
  };
  return (
    <div className="relative h-72 w-full" role="img" aria-label="Rating of each version with its 95% bootstrap interval">
      <Chart type="bar" data={data} options={options} />
    </div>
  );
}

export function RatingHistoryChart({ battles, series }: { battles: number[]; series: { model: string; data: (number | null)[] }[] }) {
  return (
    <div className="relative h-72 w-full" role="img" aria-label="Bradley–Terry rating of each version as battles accumulated">
      <Line
        data={{
          labels: battles,
          datasets: series.map((s) => ({
            label: s.model,
            data: s.data,
            borderColor: colorOf(s.model),
            backgroundColor: colorOf(s.model),
            pointRadius: 0,
            borderWidth: 2,
            spanGaps: false,
          })),
        }}
        options={{
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          interaction: { mode: "index", intersect: false },
          scales: { x: { title: { display: true, text: "rated battles so far" } }, y: { title: { display: true, text: "rating" } } },
          plugins: { legend: { position: "bottom" } },
        }}
      />
    </div>
  );
}
