import { Link } from "@remix-run/react";
import type { ReactNode } from "react";
import { Badge } from "~/components/Badge";
import { DriftBadge } from "~/components/DriftBadge";
import { KeyTtl } from "~/components/KeyTtl";
import type { EnvironmentRow } from "~/presenters/environments.server";

/**
 * The environments list's table. Columns are data: a new column is one more entry in
 * ENVIRONMENT_COLUMNS (header, alignment, cell), and the row markup never changes.
 */

export interface EnvironmentColumn {
  key: string;
  header: ReactNode;
  align?: "right";
  cell: (env: EnvironmentRow) => ReactNode;
}

const TYPE_TONES = { DEVELOPMENT: "sky", STAGING: "amber", PRODUCTION: "emerald", PREVIEW: "violet" } as const;

function CurrentKey({ env }: { env: EnvironmentRow }) {
  if (!env.cache) return <span className="text-slate-500">unknown</span>;
  if (!env.cache.exists) return <Badge>absent</Badge>;
  return (
    <span className="flex items-center gap-1.5">
      <Badge tone="emerald">present</Badge>
      {!env.cache.ownerMatches ? (
        <span title="The hash was written for another worker than Postgres' current one" className="rounded bg-red-600 px-1.5 py-0.5 text-xs font-bold uppercase text-white">
          Drift
        </span>
      ) : null}
    </span>
  );
}

export const ENVIRONMENT_COLUMNS: EnvironmentColumn[] = [
  { key: "project", header: "Project", cell: (env) => <span title={env.projectName}>{env.projectSlug}</span> },
  {
    key: "environment",
    header: "Environment",
    cell: (env) => (
      <Link to={`/admin/environments/${env.id}/cache`} className="font-medium text-indigo-700 hover:underline">
        {env.slug}
      </Link>
    ),
  },
  { key: "type", header: "Type", cell: (env) => <Badge tone={TYPE_TONES[env.type]}>{env.type}</Badge> },
  {
    key: "version",
    header: "Current version",
    cell: (env) => <span className="font-mono text-xs">{env.currentVersion ?? <span className="text-slate-500">none</span>}</span>,
  },
  { key: "workers", header: "Workers", align: "right", cell: (env) => env.workerCount },
  { key: "key", header: "Current key", cell: (env) => <CurrentKey env={env} /> },
  { key: "fields", header: "Fields", align: "right", cell: (env) => (env.cache?.exists ? env.cache.fieldCount : "—") },
  { key: "ttl", header: "TTL", cell: (env) => (env.cache ? <KeyTtl seconds={env.cache.ttlSeconds} /> : "—") },
  { key: "drift", header: "Drift (last sweep)", cell: (env) => <DriftBadge cell={env.drift} /> },
  {
    key: "link",
    header: <span className="sr-only">Links</span>,
    align: "right",
    cell: (env) => (
      <Link to={`/admin/environments/${env.id}/cache`} className="text-xs font-medium text-indigo-600 hover:underline">
        Cache →
      </Link>
    ),
  },
];

export function EnvironmentsTable({ environments, columns = ENVIRONMENT_COLUMNS }: { environments: EnvironmentRow[]; columns?: EnvironmentColumn[] }) {
  const align = (column: EnvironmentColumn) => (column.align === "right" ? "text-right tabular-nums" : "");
  return (
    <div tabIndex={0} role="region" aria-label="Environments table" className="relative overflow-x-auto rounded-lg border border-slate-200 bg-white">
      <table className="min-w-full divide-y divide-slate-200 text-sm" aria-label="Environments">
        <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
          <tr>
            {columns.map((column) => (
              <th key={column.key} className={`px-3 py-2 ${align(column)}`}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {environments.map((env) => (
            <tr key={env.id} data-environment={`${env.projectSlug}/${env.slug}`} className="hover:bg-slate-50">
              {columns.map((column) => (
                <td key={column.key} data-column={column.key} className={`px-3 py-2 text-slate-700 ${align(column)}`}>
                  {column.cell(env)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
