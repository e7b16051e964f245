import { Link } from "@remix-run/react";
import { Badge } from "~/components/Badge";
import { EmptyState } from "~/components/EmptyState";
import { KeyTtl } from "~/components/KeyTtl";
import { useLoadMore } from "~/components/useLoadMore";
import type { WorkerHashRow } from "~/presenters/environmentCache.server";
import type { RedisSide, SearchHref } from "./types";

/** The environment's worker hashes, found with SCAN MATCH on its hash tag, with "load more". */
export function WorkerHashes({ environmentId, redis, href }: { environmentId: string; redis: RedisSide; href: SearchHref }) {
  const workers = useLoadMore(redis.workerHashes, "", (w) => w.key);
  const moreToScan = workers.step.nextCursor !== "0";
  return (
    <section className="space-y-3">
      <div>
        <h2 className="text-base font-semibold text-slate-900">Worker hashes</h2>
        <p className="text-sm text-slate-500">
          This environment's keys in Redis, found a page at a time without blocking the server; a page stops after it finds some keys or has looked through 100 batches.
        </p>
      </div>
      {workers.items.length === 0 ? (
        <EmptyState title={moreToScan ? "None on this page" : "No worker hashes in Redis"}>
          {moreToScan
            ? "Load more to continue the scan."
            : "A worker's hash is written when it is registered or promoted, and back-filled by version-locked triggers."}
        </EmptyState>
      ) : (
        <WorkerHashTable environmentId={environmentId} rows={workers.items} />
      )}
      {moreToScan ? (
        <Link to={href({ wcursor: workers.step.nextCursor })} preventScrollReset className="text-sm font-medium text-indigo-600 hover:underline">
          Load more worker hashes
        </Link>
      ) : null}
    </section>
  );
}

function WorkerHashTable({ environmentId, rows }: { environmentId: string; rows: WorkerHashRow[] }) {
  return (
    <div tabIndex={0} role="region" aria-label="Worker hashes table" className="relative overflow-x-auto rounded-lg border border-slate-200 bg-white">
      <table className="min-w-full divide-y divide-slate-200 text-sm" aria-label="Worker hashes">
        <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
          <tr>
            <th className="px-3 py-2">Version</th>
            <th className="px-3 py-2">Key</th>
            <th className="px-3 py-2">Fields</th>
            <th className="px-3 py-2">TTL</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {rows.map((w) => (
            <tr key={w.key}>
              <td className="px-3 py-2">
                <Link to={`/admin/environments/${environmentId}/cache/workers/${w.workerId}`} className="font-mono text-xs text-indigo-700 hover:underline">
                  {w.version ?? "not in Postgres"}
                </Link>{" "}
                {w.isCurrent ? <Badge tone="emerald">current</Badge> : null}
              </td>
              <td className="break-all px-3 py-2 font-mono text-xs text-slate-500">{w.key}</td>
              <td className="px-3 py-2 tabular-nums">{w.fieldCount}</td>
              <td className="px-3 py-2">
                <KeyTtl seconds={w.ttlSeconds} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
