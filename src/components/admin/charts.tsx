"use client";
// chart.js through react-chartjs-2; only the pieces the admin charts use are registered.
import { BarElement, CategoryScale, Chart as ChartJS, Legend, LinearScale, LineElement, PointElement, Tooltip } from "chart.js";
import { Bar, Line } from "react-chartjs-2";

ChartJS.register(CategoryScale, LinearScale, BarElement, LineElement, PointElement, Tooltip, Legend);

const COLORS = ["#4f46e5", "#0891b2", "#db2777", "#65a30d"];

export function BarChart({ labels, series, label }: { labels: string[]; series: { name: string; data: number[] }[]; label: string }) {
  return (
    <div className="relative h-56 w-full" role="img" aria-label={label}>
      <Bar
        data={{ labels, datasets: series.map((s, i) => ({ label: s.name, data: s.data, backgroundColor: COLORS[i % COLORS.length] })) }}
        options={{
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
        }}
      />
    </div>
  );
}

/**
 * A line chart over steps. The canvas cannot be read by screen readers or tests, so the chart
 * also carries a visually hidden summary (points and latest value of each series) and
 * `data-points` (how many steps it plots).
 */
export function LineChart({
  labels,
  series,
  label,
  testId,
}: {
  labels: (string | number)[];
  series: { name: string; data: (number | null)[] }[];
  label: string;
  testId?: string;
}) {
  const summaryId = testId ? `${testId}-summary` : undefined;
  return (
    <figure className="relative h-48 w-full" data-testid={testId} data-points={labels.length}>
      <div className="relative h-full w-full" role="img" aria-label={label} aria-describedby={summaryId}>
        <Line
          data={{
            labels,
            datasets: series.map((s, i) => ({
              label: s.name,
              data: s.data,
              borderColor: COLORS[i % COLORS.length],
              backgroundColor: COLORS[i % COLORS.length],
              pointRadius: 0,
              borderWidth: 2,
              spanGaps: true,
            })),
          }}
          options={{
            responsive: true,
            maintainAspectRatio: false,
            animation: false,
            scales: { x: { title: { display: true, text: "step" } } },
          }}
        />
      </div>
      <figcaption id={summaryId} className="sr-only">
        {`${label}: ${labels.length} ${labels.length === 1 ? "point" : "points"}`}
        {series
          .map((s) => {
            const i = lastIndex(s.data);
            return i < 0 ? `; ${s.name}: no values` : `; ${s.name} ${formatValue(s.data[i]!)} at step ${labels[i]}`;
          })
          .join("")}
      </figcaption>
    </figure>
  );
}

function lastIndex(data: (number | null)[]): number {
  for (let i = data.length - 1; i >= 0; i--) if (data[i] !== null) return i;
  return -1;
}

function formatValue(v: number): string {
  return Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.001) ? v.toExponential(2) : v.toFixed(3);
}
