// The win-fraction matrix as a table: row version's share of decisive wins against the
// column version (ties left out, as FastChat does), coloured from red (loses) to blue (wins).
import { heatColor } from "./colors";

export function WinHeatMap({
  models,
  winFraction,
  battleCounts,
}: {
  models: string[];
  winFraction: (number | null)[][];
  battleCounts: number[][];
}) {
  return (
    <div className="overflow-x-auto">
      <table className="border-separate border-spacing-0.5 text-xs" data-testid="win-heat-map">
        <caption className="sr-only">Win fraction of the row version against the column version</caption>
        <thead>
          <tr>
            <th scope="col" className="px-1 text-left font-medium text-slate-500">
              row vs col
            </th>
            {models.map((m) => (
              <th key={m} scope="col" className="px-1 font-semibold">
                {m}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {models.map((rowModel, i) => (
            <tr key={rowModel}>
              <th scope="row" className="pr-2 text-left font-semibold">
                {rowModel}
              </th>
              {models.map((colModel, j) => {
                const f = winFraction[i]?.[j] ?? null;
                const n = battleCounts[i]?.[j] ?? 0;
                if (i === j || f === null) {
                  return (
                    <td
                      key={colModel}
                      className="h-9 min-w-11 rounded bg-slate-100 text-center text-slate-400"
                      title={i === j ? undefined : "no decisive battles"}
                    >
                      {i === j ? "" : "–"}
                    </td>
                  );
                }
                const { background, color } = heatColor(f);
                return (
                  <td
                    key={colModel}
                    className="h-9 min-w-11 rounded text-center tabular-nums"
                    style={{ background, color }}
                    title={`${n} battles incl. ties`}
                  >
                    {f.toFixed(2)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
