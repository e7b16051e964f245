import { Link } from "@remix-run/react";
import { KindBadge, StatusBadge } from "~/components/Badge";
import { Timestamp } from "~/components/Timestamp";
import type { RunRow } from "~/presenters/runs.server";

/** One page of runs, newest first; a task's name links to the list filtered on it. */
export function RunsTable({ environmentId, runs }: { environmentId: string; runs: RunRow[] }) {
  return (
    <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
      <table className="min-w-full divide-y divide-slate-200 text-sm" aria-label="Runs">
        <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
          <tr>
            <th className="px-3 py-2">Run</th>
            <th className="px-3 py-2">Task</th>
            <th className="px-3 py-2">Status</th>
            <th className="px-3 py-2">Queue</th>
            <th className="px-3 py-2">Source</th>
            <th className="px-3 py-2">TTL / expires</th>
            <th className="px-3 py-2">Locked version</th>
            <th className="px-3 py-2">Tags</th>
            <th className="px-3 py-2">Created (UTC)</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {runs.map((run) => (
            <RunTableRow key={run.id} environmentId={environmentId} run={run} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RunTableRow({ environmentId, run }: { environmentId: string; run: RunRow }) {
  return (
    <tr className="align-top hover:bg-slate-50">
      <td className="px-3 py-2 font-mono text-xs">
        <Link to={`/admin/runs/${run.friendlyId}`} className="text-indigo-700 hover:underline">
          {run.friendlyId}
        </Link>
      </td>
      <td className="px-3 py-2 font-mono text-xs">
        <Link to={`/admin/runs?${new URLSearchParams({ env: environmentId, task: run.taskIdentifier })}`} className="text-indigo-700 hover:underline">
          {run.taskIdentifier}
        </Link>
      </td>
      <td className="px-3 py-2">
        <StatusBadge status={run.status} />
      </td>
      <td className="px-3 py-2 font-mono text-xs text-slate-600">{run.queue}</td>
      <td className="px-3 py-2">
        <KindBadge kind={run.taskKind} />
      </td>
      <td className="px-3 py-2 text-xs text-slate-600">
        {run.ttl ?? "—"}
        {run.expiresAt ? (
          <div className="text-slate-400">
            <Timestamp iso={run.expiresAt} />
          </div>
        ) : null}
      </td>
      <td className="px-3 py-2 font-mono text-xs text-slate-600">{run.lockedVersion ?? "—"}</td>
      <td className="px-3 py-2">
        <div className="flex max-w-48 flex-wrap gap-1">
          {run.tags.map((tag) => (
            <span key={tag} className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-slate-600">
              {tag}
            </span>
          ))}
        </div>
      </td>
      <td className="px-3 py-2 text-xs text-slate-600">
        <Timestamp iso={run.createdAt} />
      </td>
    </tr>
  );
}
