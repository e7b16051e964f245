import { Link } from "@remix-run/react";
import { DriftBadge } from "~/components/DriftBadge";
import { Timestamp } from "~/components/Timestamp";
import type { OverviewDrift } from "~/presenters/drift.server";

/**
 * The overview's drift line: which environments' current hashes disagree with Postgres (or did
 * in the last day and were repaired), each linking to its cache page. Green only when
 * the sweep has checked and found nothing.
 */
export function DriftPanel({ drift }: { drift: OverviewDrift }) {
  const { environments } = drift;
  const drifting = environments?.filter((e) => e.cell.state === "drift") ?? [];
  const tone = environments === null ? "border-slate-200 bg-white" : drifting.length ? "border-red-300 bg-red-50" : environments.length ? "border-amber-300 bg-amber-50" : "border-emerald-200 bg-emerald-50";
  return (
    <section aria-labelledby="drift-title" className={`rounded-lg border px-5 py-4 ${tone}`} data-testid="drift-panel">
      <h2 id="drift-title" className="text-base font-semibold text-slate-900">
        Drift:{" "}
        {environments === null
          ? "unknown (Redis could not be read)"
          : drifting.length
            ? `${drifting.length} environment${drifting.length === 1 ? "" : "s"} serving cached metadata that disagrees with Postgres`
            : environments.length
              ? `repaired in ${environments.length} environment${environments.length === 1 ? "" : "s"} in the last 24 hours`
              : drift.checked
                ? "none — every checked current hash matches Postgres"
                : "not checked yet"}
      </h2>
      <p className="text-sm text-slate-600">
        The sweep compares every current hash with Postgres ({drift.checked} of {drift.environmentCount} environments checked
        {drift.lastCheckedAt ? (
          <>
            , last at <Timestamp iso={drift.lastCheckedAt} /> UTC
          </>
        ) : null}
        ).
      </p>
      {environments?.length ? (
        <ul className="mt-2 space-y-1.5">
          {environments.map((e) => (
            <li key={e.id} className="flex flex-wrap items-center gap-3" data-environment={e.label}>
              <Link to={`/admin/environments/${e.id}/cache?drift=1`} className="font-medium text-indigo-700 hover:underline">
                {e.label}
              </Link>
              <DriftBadge cell={e.cell} />
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
