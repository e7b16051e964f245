import { Link, useRevalidator } from "@remix-run/react";
import { useEffect } from "react";
import { RelativeTime } from "~/components/RelativeTime";
import { useSearchHref } from "~/components/useSearchHref";

export const AUTO_REFRESH_MS = 10_000;

/**
 * The runs list's auto-refresh: a switch kept in the URL (`live=1`, so a shared link refreshes
 * too). While on, the first page reloads its data every 10 s when the tab is visible; on an older
 * page it waits, so rows do not move under the reader.
 */
export function AutoRefresh({ enabled, active, now }: { enabled: boolean; active: boolean; now: string }) {
  const revalidator = useRevalidator();
  const href = useSearchHref();
  useEffect(() => {
    if (!enabled || !active) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible" && revalidator.state === "idle") revalidator.revalidate();
    }, AUTO_REFRESH_MS);
    return () => clearInterval(timer);
  }, [enabled, active, revalidator]);
  return (
    <div className="flex items-center gap-3">
      <span className="text-xs text-slate-600" data-testid="refreshed-at">
        Updated <RelativeTime iso={now} now={now} />
        {enabled && !active ? " · auto-refresh waits on older pages" : ""}
      </span>
      <Link
        to={href({ live: enabled ? null : "1" })}
        role="switch"
        aria-checked={enabled}
        replace
        className={`inline-flex items-center gap-2 rounded-md border px-2.5 py-1 text-xs font-medium ${
          enabled ? "border-indigo-300 bg-indigo-50 text-indigo-800" : "border-slate-300 bg-white text-slate-700 hover:bg-slate-50"
        }`}
      >
        <span aria-hidden className={`h-2 w-2 rounded-full ${enabled ? "bg-indigo-600" : "bg-slate-400"}`} />
        Auto-refresh every 10 s
      </Link>
    </div>
  );
}
