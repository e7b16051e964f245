import { CopyButton } from "~/components/CopyButton";
import { KeyTtl } from "~/components/KeyTtl";
import type { EnvironmentCachePage } from "~/presenters/environmentCache.server";

/** Side by side: Postgres' current worker, and what the current hash in Redis says about itself. */
export function PostgresAndRedisSummary({ currentWorker, keys, redis }: Pick<EnvironmentCachePage, "currentWorker" | "keys" | "redis">) {
  return (
    <section className="grid gap-4 md:grid-cols-2">
      <div className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="text-sm font-semibold text-slate-900">Postgres</h2>
        <dl className="mt-2 grid grid-cols-[8rem_1fr] gap-y-1 text-sm">
          <dt className="text-slate-500">Current worker</dt>
          <dd className="font-mono text-xs">{currentWorker ? `${currentWorker.version} (${currentWorker.id})` : "none"}</dd>
          <dt className="text-slate-500">Tasks</dt>
          <dd>{currentWorker?.taskCount ?? 0}</dd>
        </dl>
      </div>
      <div className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="text-sm font-semibold text-slate-900">Redis current hash</h2>
        <dl className="mt-2 grid grid-cols-[8rem_1fr] gap-y-1 text-sm">
          <dt className="text-slate-500">Key</dt>
          <dd className="font-mono text-xs">
            <span className="break-all" data-testid="current-key">{keys.current}</span> <CopyButton value={keys.current} label="Copy key name" />
          </dd>
          {redis.ok ? (
            <>
              <dt className="text-slate-500">Fields</dt>
              <dd data-testid="current-field-count">{redis.status.exists ? redis.status.fieldCount : "key absent"}</dd>
              <dt className="text-slate-500">Key expires in</dt>
              <dd data-testid="current-ttl">
                <KeyTtl seconds={redis.status.ttlSeconds} />
              </dd>
              <dt className="text-slate-500">Owner</dt>
              <dd className="font-mono text-xs" data-testid="current-owner">
                {redis.owner ? `${redis.owner.version ?? "unknown version"} (${redis.owner.id})` : "none"}
                {redis.ownerDrift ? (
                  <span className="ml-2 rounded bg-red-600 px-1.5 py-0.5 font-sans text-xs font-bold uppercase text-white">Drift</span>
                ) : null}
              </dd>
            </>
          ) : (
            <>
              <dt className="text-slate-500">Status</dt>
              <dd className="text-amber-800">unavailable</dd>
            </>
          )}
        </dl>
      </div>
    </section>
  );
}
