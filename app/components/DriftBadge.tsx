import { Timestamp } from "~/components/Timestamp";
import { describeDrift } from "~/domain/driftRecord";
import type { DriftCell } from "~/presenters/drift.server";

/**
 * What the sweep last found in an environment's current hash: drifting now (red), drifted and
 * repaired by the sweep (amber), in sync, or not checked yet; "unknown" when Redis could not be read.
 */
export function DriftBadge({ cell }: { cell: DriftCell | null }) {
  if (!cell) return <span className="text-xs text-slate-500">unknown</span>;
  const { state, record } = cell;
  if (state === "unchecked" || !record) return <span className="text-xs text-slate-500" title="The sweep has not compared this environment yet">not checked yet</span>;
  if (state === "in-sync") {
    return (
      <span className="text-xs text-emerald-700" data-drift="in-sync" title={`Checked ${record.checkedAt}${record.seenAt ? `; last drift ${record.seenAt}` : ""}`}>
        in sync
      </span>
    );
  }
  const drifting = state === "drift";
  const text = drifting ? describeDrift(record) : describeDrift({ fields: record.seenFields, ownerMismatch: record.seenOwnerMismatch });
  const seen = drifting ? record.checkedAt : (record.seenAt ?? record.checkedAt);
  return (
    <span className="flex flex-col gap-0.5" data-drift={state} title={record.sample.join("\n")}>
      <span className={`w-fit rounded px-1.5 py-0.5 text-xs font-bold text-white ${drifting ? "bg-red-700" : "bg-amber-700"}`}>
        {drifting ? `${text} drift` : `${text} drifted · repaired`}
      </span>
      <span className="text-xs text-slate-600">
        seen <Timestamp iso={seen} />
      </span>
    </span>
  );
}
