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
        options={{ responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }}
      />
    </div>
  );
}

export function LineChart({ labels, series, label }: { labels: (string | number)[]; series: { name: string; data: (number | null)[] }[]; label: string }) {
  return (
    <div className="relative h-48 w-full" role="img" aria-label={label}>
      <Line
        data={{
          labels,
          datasets: series.map((s, i) => ({ label: s.name, data: s.data, borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length], pointRadius: 0, borderWidth: 2, spanGaps: true })),
        }}
        options={{ responsive: true, maintainAspectRatio: false, animation: false, scales: { x: { title: { display: true, text: "step" } } } }}
      />
    </div>
  );
}
