import { Link, useNavigation, useRevalidator } from "@remix-run/react";
import { useEffect, useState } from "react";
import { METRICS_WINDOWS, type MetricsWindow } from "~/domain/metricsMath";

const AUTO_REFRESH_MS = 10_000;
const WINDOWS = Object.entries(METRICS_WINDOWS) as [MetricsWindow, (typeof METRICS_WINDOWS)[MetricsWindow]][];

/** Reload the figures now, or every few seconds while the tab is visible. */
export function RefreshControls() {
  const revalidator = useRevalidator();
  const navigation = useNavigation();
  const [auto, setAuto] = useState(false);
  const busy = revalidator.state !== "idle" || navigation.state !== "idle";

  useEffect(() => {
    if (!auto) return;
    const timer = setInterval(() => {
      // Skip a tick rather than queue reloads behind a slow one.
      if (revalidator.state === "idle" && document.visibilityState === "visible") revalidator.revalidate();
    }, AUTO_REFRESH_MS);
    return () => clearInterval(timer);
  }, [auto, revalidator]);

  return (
    <div className="flex items-center gap-3">
      <label className="flex items-center gap-1.5 text-sm text-slate-600">
        <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} className="h-4 w-4 rounded border-slate-300" />
        Auto-refresh ({AUTO_REFRESH_MS / 1000} s)
      </label>
      <button
        type="button"
        onClick={() => revalidator.revalidate()}
        disabled={busy}
        className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-60"
      >
        {busy ? "Refreshing…" : "Refresh"}
      </button>
    </div>
  );
}

/** The time window the figures cover (?window=). */
export function WindowChooser({ current }: { current: MetricsWindow }) {
  return (
    <nav aria-label="Window" className="inline-flex rounded-md border border-slate-300 bg-white p-0.5">
      {WINDOWS.map(([value, { label }]) => (
        <Link
          key={value}
          to={`?window=${value}`}
          preventScrollReset
          aria-current={value === current ? "page" : undefined}
          className={`rounded px-3 py-1 text-sm font-medium ${
            value === current ? "bg-indigo-600 text-white" : "text-slate-600 hover:bg-slate-100"
          }`}
        >
          {label}
        </Link>
      ))}
    </nav>
  );
}
