import { Link } from "@remix-run/react";
import type { FieldRow } from "~/presenters/environmentCache.server";
import { Badge, KindBadge } from "~/components/Badge";
import { CopyButton } from "~/components/CopyButton";

/**
 * The decoded fields of one task metadata hash, each compared with Postgres: in sync, a negative
 * entry (the worker lacks the task), or DRIFT with what disagrees. The stored JSON is one click
 * away.
 */
export function CacheFieldsTable({
  rows,
  label,
  deleteHref,
}: {
  rows: FieldRow[];
  label: string;
  /** ADMIN only: where the "delete field" confirmation for a field lives. */
  deleteHref?: (field: string) => string;
}) {
  return (
    <div tabIndex={0} role="region" aria-label="Cache fields table" className="relative overflow-x-auto rounded-lg border border-slate-200 bg-white">
      <table className="min-w-full divide-y divide-slate-200 text-sm" aria-label={label}>
        <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
          <tr>
            <th className="px-3 py-2">Task (field)</th>
            <th className="px-3 py-2">Queue name</th>
            <th className="px-3 py-2">Queue id</th>
            <th className="px-3 py-2" title="The TTL a run of this task gets (not the key's expiry)">Run TTL</th>
            <th className="px-3 py-2">Kind</th>
            <th className="px-3 py-2">vs Postgres</th>
            <th className="px-3 py-2">Raw</th>
            {deleteHref ? <th className="px-3 py-2 text-right">Action</th> : null}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {rows.map((row) => {
            const task = row.cached?.found ? row.cached : null;
            return (
              <tr key={row.field} data-field={row.field} data-state={row.state} className={`align-top ${row.state === "drift" ? "bg-red-50/60" : ""}`}>
                <td className="px-3 py-2 font-mono text-xs text-slate-900">{row.field}</td>
                <td className="px-3 py-2 font-mono text-xs text-slate-600">{task?.queueName ?? "—"}</td>
                <td className="px-3 py-2 font-mono text-xs text-slate-500">{task?.queueId ?? "—"}</td>
                <td className="px-3 py-2 font-mono text-xs text-slate-700" data-column="ttl">
                  {task ? (task.ttl ?? "none") : "—"}
                </td>
                <td className="px-3 py-2">
                  {task ? <KindBadge kind={task.kind} /> : row.cached ? <Badge title="The worker does not have this task; cached so repeated triggers skip Postgres">negative entry</Badge> : "—"}
                </td>
                <td className="px-3 py-2">
                  {row.state === "drift" ? (
                    <div>
                      <span className="rounded bg-red-600 px-1.5 py-0.5 text-xs font-bold uppercase tracking-wide text-white">Drift</span>
                      <ul className="mt-1 list-inside list-disc text-xs text-red-800">
                        {row.differences.map((d) => (
                          <li key={d}>{d}</li>
                        ))}
                      </ul>
                    </div>
                  ) : row.state === "negative" ? (
                    <Badge tone="slate">absent, as cached</Badge>
                  ) : (
                    <Badge tone="emerald">in sync</Badge>
                  )}
                </td>
                <td className="px-3 py-2">
                  <details>
                    <summary className="cursor-pointer select-none text-xs font-medium text-indigo-600">JSON</summary>
                    <pre className="mt-1 max-w-md overflow-x-auto rounded bg-slate-900 p-2 font-mono text-xs text-slate-100">{row.rawJson}</pre>
                  </details>
                  <CopyButton value={row.rawJson} label={`Copy value of ${row.field}`} />
                </td>
                {deleteHref ? (
                  <td className="px-3 py-2 text-right">
                    <Link to={deleteHref(row.field)} preventScrollReset className="text-xs font-medium text-red-600 hover:underline">
                      Delete field
                    </Link>
                  </td>
                ) : null}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
