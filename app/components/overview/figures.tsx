import type { ReactNode } from "react";
import { hitRateTone } from "~/domain/metricsMath";

/** How the overview writes its figures, and the small blocks they sit in. */

export const count = (n: number) => Math.round(n).toLocaleString("en-US");
export const percent = (rate: number | null) => (rate === null ? "—" : `${(rate * 100).toFixed(1)} %`);
export const perSecond = (n: number) => (n >= 100 ? count(n) : n.toFixed(n >= 10 ? 1 : 2));

export const TONE_CLASSES = {
  good: "border-emerald-200 bg-emerald-50 text-emerald-700",
  warn: "border-amber-200 bg-amber-50 text-amber-700",
  bad: "border-red-200 bg-red-50 text-red-700",
  none: "border-slate-200 bg-white text-slate-500",
} as const;

export function Tile({ label, value, hint, className = "border-slate-200 bg-white text-slate-900", href }: {
  label: string;
  value: ReactNode;
  hint: string;
  className?: string;
  /** Where the figure comes from in detail (the whole tile links there). */
  href?: string;
}) {
  const body = (
    <>
      <p className="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</p>
      <p className="mt-1 text-2xl font-semibold tabular-nums">{value}</p>
      <p className="mt-0.5 text-xs text-slate-500">{hint}</p>
    </>
  );
  const testId = `tile-${label.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  return href ? (
    <a href={href} className={`block rounded-lg border px-4 py-3 hover:ring-2 hover:ring-indigo-300 ${className}`} data-testid={testId}>
      {body}
    </a>
  ) : (
    <div className={`rounded-lg border px-4 py-3 ${className}`} data-testid={testId}>
      {body}
    </div>
  );
}

export function Section({ title, description, children, id }: { title: string; description?: string; children: ReactNode; id?: string }) {
  return (
    <section className="scroll-mt-6 space-y-3" id={id}>
      <div>
        <h2 className="text-base font-semibold text-slate-900">{title}</h2>
        {description ? <p className="text-sm text-slate-500">{description}</p> : null}
      </div>
      {children}
    </section>
  );
}

export function RateBadge({ rate }: { rate: number | null }) {
  return (
    <span className={`inline-block rounded border px-1.5 py-0.5 text-xs font-semibold tabular-nums ${TONE_CLASSES[hitRateTone(rate)]}`}>
      {rate === null ? "no lookups" : percent(rate)}
    </span>
  );
}
