import { Link } from "@remix-run/react";
import { KindBadge, StatusBadge } from "~/components/Badge";
import { RelativeTime } from "~/components/RelativeTime";
import type { RunRow } from "~/presenters/runs.server";

/**
 * One page of runs, newest first: a table from 768 px up (sized to fit 1440 px beside the
 * navigation: long ids, slugs, queues and tags are cut with the whole value on hover), and a list
 * of cards on narrow screens with the state first. A run's id opens its detail page; its task
 * narrows the list to that task.
 */
export function RunsTable({ environmentId, runs, now }: { environmentId: string; runs: RunRow[]; now: string }) {
  return (
    <>
      <div className="hidden rounded-lg border border-slate-200 bg-white md:block">
        <table className="w-full table-auto divide-y divide-slate-200 text-sm" aria-label="Runs">
          <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-600">
            <tr>
              <th className="px-2.5 py-2">Run</th>
              <th className="px-2.5 py-2">Task</th>
              <th className="px-2.5 py-2">Status</th>
              <th className="px-2.5 py-2">Kind</th>
              <th className="px-2.5 py-2">Queue / locked version</th>
              <th className="px-2.5 py-2">Expires</th>
              <th className="px-2.5 py-2">Tags</th>
              <th className="px-2.5 py-2">Created</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {runs.map((run) => (
              <RunTableRow key={run.id} environmentId={environmentId} run={run} now={now} />
            ))}
          </tbody>
        </table>
      </div>
      <ul aria-label="Runs" className="space-y-2 md:hidden">
        {runs.map((run) => (
          <RunCard key={run.id} environmentId={environmentId} run={run} now={now} />
        ))}
      </ul>
    </>
  );
}

const taskHref = (environmentId: string, task: string) => `/admin/runs?${new URLSearchParams({ env: environmentId, task })}`;

function Cut({ text, className, width }: { text: string; className?: string; width: string }) {
  return (
    <span title={text} className={`block truncate ${width} ${className ?? ""}`}>
      {text}
    </span>
  );
}

function Tags({ tags }: { tags: string[] }) {
  return (
    <span className="flex max-w-32 flex-wrap gap-1">
      {tags.map((tag) => (
        <span key={tag} title={tag} className="max-w-full truncate rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-slate-700">
          {tag}
        </span>
      ))}
    </span>
  );
}

function RunTableRow({ environmentId, run, now }: { environmentId: string; run: RunRow; now: string }) {
  return (
    <tr className="align-top hover:bg-slate-50" data-run={run.friendlyId}>
      <td className="px-2.5 py-2 font-mono text-xs">
        <Link to={`/admin/runs/${run.friendlyId}`} title={run.friendlyId} className="block max-w-40 truncate text-indigo-700 hover:underline">
          {run.friendlyId}
        </Link>
      </td>
      <td className="px-2.5 py-2 font-mono text-xs">
        <Link to={taskHref(environmentId, run.taskIdentifier)} title={run.taskIdentifier} className="block max-w-40 truncate text-indigo-700 hover:underline">
          {run.taskIdentifier}
        </Link>
      </td>
      <td className="px-2.5 py-2">
        <StatusBadge status={run.status} />
      </td>
      <td className="px-2.5 py-2">
        <KindBadge kind={run.taskKind} />
      </td>
      <td className="px-2.5 py-2 font-mono text-xs text-slate-700">
        <Cut text={run.queue} width="max-w-36" />
        {run.lockedVersion ? <Cut text={`locked ${run.lockedVersion}`} width="max-w-36" className="text-slate-600" /> : null}
        {run.externalDeploymentId ? <Cut text={`pinned ${run.externalDeploymentId}`} width="max-w-36" className="text-slate-600" /> : null}
      </td>
      <td className="px-2.5 py-2 text-xs text-slate-700">
        {run.expiresAt ? <RelativeTime iso={run.expiresAt} now={now} /> : "never"}
        {run.ttl ? <span className="block text-slate-600">TTL {run.ttl}</span> : null}
      </td>
      <td className="px-2.5 py-2">
        <Tags tags={run.tags} />
      </td>
      <td className="px-2.5 py-2 text-xs text-slate-700">
        <RelativeTime iso={run.createdAt} now={now} />
      </td>
    </tr>
  );
}

function RunCard({ environmentId, run, now }: { environmentId: string; run: RunRow; now: string }) {
  return (
    <li className="rounded-lg border border-slate-200 bg-white p-3 text-sm" data-run={run.friendlyId}>
      <div className="flex items-center justify-between gap-2">
        <StatusBadge status={run.status} />
        <span className="text-xs text-slate-700">
          <RelativeTime iso={run.createdAt} now={now} />
        </span>
      </div>
      <Link to={`/admin/runs/${run.friendlyId}`} className="mt-2 block break-all font-mono text-xs text-indigo-700 hover:underline">
        {run.friendlyId}
      </Link>
      <div className="mt-1 flex flex-wrap items-center gap-2">
        <Link to={taskHref(environmentId, run.taskIdentifier)} className="break-all font-mono text-xs text-indigo-700 hover:underline">
          {run.taskIdentifier}
        </Link>
        <KindBadge kind={run.taskKind} />
      </div>
      <p className="mt-1 break-all font-mono text-xs text-slate-700">
        {run.queue}
        {run.lockedVersion ? ` · locked ${run.lockedVersion}` : ""}
        {run.expiresAt ? (
          <span className="font-sans">
            {" "}· expires <RelativeTime iso={run.expiresAt} now={now} />
          </span>
        ) : null}
      </p>
      {run.tags.length > 0 ? (
        <div className="mt-1">
          <Tags tags={run.tags} />
        </div>
      ) : null}
    </li>
  );
}
