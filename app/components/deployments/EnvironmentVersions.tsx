import { Link } from "@remix-run/react";
import type { ReactNode } from "react";
import { Badge, StatusBadge } from "~/components/Badge";
import { EmptyState } from "~/components/EmptyState";
import { Timestamp } from "~/components/Timestamp";
import { AwaitingExternalIds } from "~/components/deployments/AwaitingExternalIds";
import type { EnvironmentDeployments, VersionRow } from "~/presenters/deployments.server";

/**
 * One environment's versions, newest first: which is current since when, and for an ADMIN a
 * promote or roll-back link on each promotable one (it opens the confirmation, drawn right below
 * this environment's versions). While the cache's Redis is unreachable the links are disabled
 * buttons saying why.
 */
export function EnvironmentVersions(props: {
  environment: EnvironmentDeployments;
  isAdmin: boolean;
  /** Why write actions are disabled now (Redis unreachable); null when they are not. */
  writeBlocked: string | null;
  /** Whether the page shows this environment alone (all its versions). */
  focused: boolean;
  confirmHref: (workerId: string) => string;
  /** The open confirmation of one of this environment's versions. */
  confirmation: ReactNode;
}) {
  const { environment: env, isAdmin, writeBlocked, focused, confirmHref, confirmation } = props;
  return (
    <section className="space-y-2" aria-label={`${env.projectSlug} / ${env.slug}`} data-environment={`${env.projectSlug}/${env.slug}`}>
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h2 className="text-base font-semibold text-slate-900">
          {env.projectSlug} / {env.slug} <span className="ml-1 text-xs font-medium text-slate-500">{env.type}</span>
        </h2>
        <p className="text-sm text-slate-500">
          Current: <span className="font-mono text-slate-800" data-testid="current-version">{env.currentVersion ?? "none"}</span>
          {env.promotedAt ? (
            <>
              {" "}
              since <Timestamp iso={env.promotedAt} />
            </>
          ) : null}
        </p>
      </div>
      {env.versions.length === 0 ? (
        <EmptyState title="No versions registered">Deploy with POST /api/v1/deployments and the version appears here.</EmptyState>
      ) : (
        <VersionsTable label={`Versions of ${env.projectSlug} / ${env.slug}`} versions={env.versions} isAdmin={isAdmin} writeBlocked={writeBlocked} confirmHref={confirmHref} />
      )}
      {confirmation}
      <AwaitingExternalIds environmentId={env.id} awaiting={env.awaiting} />
      {env.type === "DEVELOPMENT" ? (
        <p className="text-xs text-slate-500">In DEVELOPMENT the most recently registered worker is always current; there is nothing to promote.</p>
      ) : null}
      {!focused && env.versionCount > env.versions.length ? (
        <Link to={`/admin/deployments?env=${env.id}`} className="text-sm text-indigo-600 hover:underline">
          Show all {env.versionCount} versions
        </Link>
      ) : null}
    </section>
  );
}

function VersionsTable({
  label,
  versions,
  isAdmin,
  writeBlocked,
  confirmHref,
}: {
  label: string;
  versions: VersionRow[];
  isAdmin: boolean;
  writeBlocked: string | null;
  confirmHref: (workerId: string) => string;
}) {
  return (
    <div tabIndex={0} role="region" aria-label="Versions table" className="relative overflow-x-auto rounded-lg border border-slate-200 bg-white">
      <table className="min-w-full divide-y divide-slate-200 text-sm" aria-label={label}>
        <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
          <tr>
            <th className="px-3 py-2">Version</th>
            <th className="px-3 py-2">External id</th>
            <th className="px-3 py-2">Status</th>
            <th className="px-3 py-2 text-right">Tasks</th>
            <th className="px-3 py-2">Created (UTC)</th>
            <th className="px-3 py-2 text-right">{isAdmin ? "Action" : <span className="sr-only">Actions (admins only)</span>}</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {versions.map((v) => (
            <tr key={v.workerId} data-version={v.version} className={v.current ? "bg-emerald-50/60" : ""}>
              <td className="px-3 py-2 font-mono text-xs">
                {v.version} {v.current ? <Badge tone="emerald">current</Badge> : null}
              </td>
              <td className="px-3 py-2 font-mono text-xs text-slate-600" data-external-id={v.externalDeploymentId ?? ""}>
                {v.externalDeploymentId ?? "—"}
              </td>
              <td className="px-3 py-2">{v.status ? <StatusBadge status={v.status} /> : <Badge title="DEVELOPMENT workers are not deployed">registered</Badge>}</td>
              <td className="px-3 py-2 text-right tabular-nums">{v.taskCount}</td>
              <td className="px-3 py-2 text-xs text-slate-600">
                <Timestamp iso={v.createdAt} />
              </td>
              <td className="px-3 py-2 text-right">{isAdmin && v.promotable ? <PromoteLink version={v} to={confirmHref(v.workerId)} blocked={writeBlocked} /> : null}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function PromoteLink({ version, to, blocked }: { version: VersionRow; to: string; blocked: string | null }) {
  const rollback = version.promoteKind === "rollback";
  const label = rollback ? "Roll back" : "Promote";
  const className = `rounded-md px-2.5 py-1 text-xs font-semibold ${
    rollback ? "border border-amber-300 bg-white text-amber-800 hover:bg-amber-50" : "bg-indigo-600 text-white hover:bg-indigo-500"
  }`;
  if (blocked) {
    return (
      <button type="button" disabled title={blocked} aria-label={`${label} (disabled: Redis unreachable)`} className={`${className} cursor-not-allowed opacity-60`}>
        {label}
      </button>
    );
  }
  return (
    <Link to={to} preventScrollReset data-promote-for={version.workerId} className={className}>
      {label}
    </Link>
  );
}
