import type { ReactNode } from "react";

const TONES = {
  slate: "bg-slate-100 text-slate-700 ring-slate-300",
  indigo: "bg-indigo-50 text-indigo-700 ring-indigo-200",
  emerald: "bg-emerald-50 text-emerald-700 ring-emerald-200",
  amber: "bg-amber-50 text-amber-800 ring-amber-200",
  red: "bg-red-50 text-red-700 ring-red-200",
  sky: "bg-sky-50 text-sky-700 ring-sky-200",
  violet: "bg-violet-50 text-violet-700 ring-violet-200",
} as const;

export type BadgeTone = keyof typeof TONES;

export function Badge({ tone = "slate", title, children }: { tone?: BadgeTone; title?: string; children: ReactNode }) {
  return (
    <span title={title} className={`inline-flex items-center whitespace-nowrap rounded px-1.5 py-0.5 text-xs font-medium ring-1 ring-inset ${TONES[tone]}`}>
      {children}
    </span>
  );
}

const STATUS_TONES: Record<string, BadgeTone> = {
  QUEUED: "sky",
  DELAYED: "violet",
  PENDING_VERSION: "amber",
  EXECUTING: "indigo",
  COMPLETED: "emerald",
  FAILED: "red",
  CANCELED: "slate",
  EXPIRED: "slate",
  DEPLOYED: "emerald",
};

/** A run or deployment status, coloured by what it means. */
export function StatusBadge({ status }: { status: string }) {
  return <Badge tone={STATUS_TONES[status] ?? "slate"}>{status.replaceAll("_", " ").toLowerCase()}</Badge>;
}

const KIND_TONES: Record<string, BadgeTone> = { STANDARD: "slate", SCHEDULED: "sky", AGENT: "violet" };

/** A task kind (the trigger "Source"). */
export function KindBadge({ kind }: { kind: string }) {
  return <Badge tone={KIND_TONES[kind] ?? "slate"}>{kind}</Badge>;
}
