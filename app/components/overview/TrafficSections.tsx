import { hitRateTone } from "~/domain/metricsMath";
import type { CacheOverview, OverviewProblem } from "~/presenters/cacheOverview.server";
import { count, percent, perSecond, Section, Tile, TONE_CLASSES } from "./figures";

/** What Redis did not answer, and that triggers keep working anyway. */
export function RedisProblems({ problems }: { problems: OverviewProblem[] }) {
  if (!problems.length) return null;
  return (
    <div role="alert" className="rounded-lg border border-amber-300 bg-amber-50 px-5 py-4">
      <p className="text-sm font-semibold text-amber-900">Redis is not answering — some figures are missing</p>
      <ul className="mt-1 list-disc pl-5 text-sm text-amber-800">
        {problems.map((p) => (
          <li key={p.message}>{p.message}</li>
        ))}
      </ul>
      <p className="mt-2 text-sm text-amber-800">Triggers keep working (the cache fails open to Postgres). GET /healthz says which dependency is down.</p>
    </div>
  );
}

/** The headline tiles when the metrics could not be read: "unknown", never a reassuring 0. */
export function UnknownSummaryTiles() {
  const hint = "Redis could not be read";
  return (
    <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6" data-testid="unknown-tiles">
      {["Hit rate", "Hits", "Misses", "Back-fills", "Errors", "Ops/s"].map((label) => (
        <Tile key={label} label={label} value="unknown" hint={hint} />
      ))}
    </div>
  );
}

/** The window's headline figures: hit rate (coloured by threshold), hits, misses, back-fills, errors, ops/s. */
export function SummaryTiles({ summary, windowLabel }: { summary: NonNullable<CacheOverview["summary"]>; windowLabel: string }) {
  return (
    <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6">
      <Tile
        label="Hit rate"
        value={percent(summary.hitRate)}
        hint={summary.hitRate === null ? "no lookups yet" : "≥ 95 % green · ≥ 80 % amber"}
        className={TONE_CLASSES[hitRateTone(summary.hitRate)]}
      />
      <Tile label="Hits" value={count(summary.hits)} hint={`lookups served from cache (${count(summary.negativeHits)} negative)`} />
      <Tile label="Misses" value={count(summary.misses)} hint="lookups that went to Postgres" />
      <Tile label="Back-fills" value={count(summary.backfills)} hint="entries written after a miss" />
      <Tile
        label="Errors"
        value={count(summary.errors)}
        hint={`${count(summary.decodeErrors)} decode · ${count(summary.redisErrors)} Redis · ${count(summary.breakerOpens)} breaker opens`}
        className={summary.errors ? "border-red-200 bg-red-50 text-red-700" : undefined}
        href={summary.errors ? "#by-keyspace" : undefined}
      />
      <Tile label="Ops/s" value={perSecond(summary.opsPerSecond)} hint={`lookups per second over ${windowLabel}`} />
    </div>
  );
}

/** Raw cache events per keyspace (the in-process tier, current, worker, version). */
export function KeyspaceTable({ keyspaces }: { keyspaces: CacheOverview["keyspaces"] }) {
  return (
    <Section id="by-keyspace" title="By keyspace" description="Raw cache events. One lookup can touch several keyspaces (the in-process tier, then Redis), so the hit rate above counts lookups instead.">
      <div tabIndex={0} role="region" aria-label="Events by keyspace" className="relative overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full text-sm">
          <thead className="bg-slate-50 text-left text-xs uppercase tracking-wide text-slate-500">
            <tr>
              {["Keyspace", "Hits", "Negative hits", "Misses", "Hit rate", "Back-fills", "Decode errors", "Redis errors"].map((h) => (
                <th key={h} className="px-3 py-2 font-medium">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 tabular-nums">
            {keyspaces.map((k) => (
              <tr key={k.keyspace}>
                <td className="px-3 py-2 font-mono text-xs">{k.keyspace === "l1" ? "l1 (in-process)" : k.keyspace}</td>
                <td className="px-3 py-2">{count(k.hits)}</td>
                <td className="px-3 py-2">{count(k.negativeHits)}</td>
                <td className="px-3 py-2">{count(k.misses)}</td>
                <td className="px-3 py-2">{percent(k.hitRate)}</td>
                <td className="px-3 py-2">{count(k.backfills)}</td>
                <td className="px-3 py-2">{count(k.decodeErrors)}</td>
                <td className="px-3 py-2">{count(k.redisErrors)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}
