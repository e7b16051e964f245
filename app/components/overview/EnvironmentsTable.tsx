import { Link } from "@remix-run/react";
import { EmptyState } from "~/components/EmptyState";
import type { CacheOverview, EnvironmentCacheRow } from "~/presenters/cacheOverview.server";
import { count, RateBadge, Section } from "./figures";

/** Environments, lowest hit rate first, each with its current hash as Redis holds it now. */
export function EnvironmentsTable({ overview, windowLabel }: { overview: Pick<CacheOverview, "environments" | "environmentCount">; windowLabel: string }) {
  const { environments, environmentCount } = overview;
  return (
    <Section title="Environments" description={`Lowest hit rate first over the last ${windowLabel}; the current hash as Redis holds it now.`}>
      {environments.length === 0 ? (
        <EmptyState title="No environments yet">
          Run <code className="rounded bg-slate-100 px-1">npm run db:seed</code> (or the quickstart) to create a demo project with dev, staging and
          prod environments.
        </EmptyState>
      ) : (
        <div tabIndex={0} role="region" aria-label="Environments table" className="relative overflow-x-auto rounded-lg border border-slate-200 bg-white">
          <table className="min-w-full text-sm" data-testid="environments-table">
            <thead className="bg-slate-50 text-left text-xs uppercase tracking-wide text-slate-500">
              <tr>
                {["Environment", "Hit rate", "Lookups", "Current key", "Fields", "TTL", "Owner version"].map((h) => (
                  <th key={h} className="px-3 py-2 font-medium">
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {environments.map((e) => (
                <EnvironmentRow key={e.id} environment={e} />
              ))}
            </tbody>
          </table>
          {environmentCount > environments.length ? (
            <p className="border-t border-slate-100 px-3 py-2 text-xs text-slate-500">
              Showing the {environments.length} lowest of {environmentCount} environments.
            </p>
          ) : null}
        </div>
      )}
    </Section>
  );
}

function EnvironmentRow({ environment: e }: { environment: EnvironmentCacheRow }) {
  return (
    <tr>
      <td className="px-3 py-2">
        <Link to={`/admin/environments/${e.id}/cache`} className="font-medium text-indigo-700 hover:underline">
          {e.slug}
        </Link>
        <span className="ml-2 text-xs text-slate-500" title={e.projectName}>
          {e.projectSlug} · {e.type.toLowerCase()}
        </span>
      </td>
      <td className="px-3 py-2">
        <RateBadge rate={e.hitRate} />
      </td>
      <td className="px-3 py-2 tabular-nums">{count(e.lookups)}</td>
      {e.current ? (
        <>
          <td className="px-3 py-2">
            {e.current.present ? <span className="text-emerald-700">present</span> : <span className="text-slate-500">absent</span>}
          </td>
          <td className="px-3 py-2 tabular-nums">{count(e.current.fieldCount)}</td>
          <td className="px-3 py-2" title={e.current.ttl.title}>
            {e.current.present ? e.current.ttl.label : "—"}
          </td>
          <td className="px-3 py-2 font-mono text-xs">
            {e.current.ownerVersion ??
              (e.current.ownerWorkerId ? (
                <span className="text-red-700" title={`Worker ${e.current.ownerWorkerId} is not in Postgres`}>
                  unknown worker
                </span>
              ) : (
                <span className="text-slate-500">none</span>
              ))}
          </td>
        </>
      ) : (
        <td colSpan={4} className="px-3 py-2 text-xs text-slate-500">
          Redis unavailable
        </td>
      )}
    </tr>
  );
}
