import { type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { Badge } from "~/components/Badge";
import { DriftBadge } from "~/components/DriftBadge";
import { EmptyState } from "~/components/EmptyState";
import { KeyTtl } from "~/components/KeyTtl";
import { Notice } from "~/components/Notice";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { httpError } from "~/httpError.server";
import { environmentsPage } from "~/presenters/environments.server";
import { loadPageData } from "~/presenters/pageData.server";
import { requireAdminAction, requireUser } from "~/services/session.server";

export const meta: MetaFunction = () => [{ title: "Environments · Hotpath" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  return await loadPageData("environments", () => environmentsPage());
}

// The list only reads; its action is guarded like every admin action so a forged POST is refused.
export async function action({ request }: ActionFunctionArgs) {
  await requireAdminAction(request);
  throw httpError(405, "The environments list has no actions; the repairs are on each environment's cache page.");
}

export const ErrorBoundary = RouteErrorPanel;

const TYPE_TONES = { DEVELOPMENT: "sky", STAGING: "amber", PRODUCTION: "emerald", PREVIEW: "violet" } as const;

export default function EnvironmentsPage() {
  const { environments, redisError } = useLoaderData<typeof loader>();
  return (
    <div className="space-y-6">
      <PageHeader
        title="Environments"
        description="Each environment's current worker (Postgres) beside its current hash in the task metadata cache (Redis), and what the sweep last found comparing the two."
      />
      {redisError ? <Notice title="Redis is unavailable">{redisError}</Notice> : null}
      {environments.length === 0 ? (
        <EmptyState title="No environments yet">Run the seed (npm run db:seed) or create a project; its environments appear here.</EmptyState>
      ) : (
        <div tabIndex={0} role="region" aria-label="Environments table" className="relative overflow-x-auto rounded-lg border border-slate-200 bg-white">
          <table className="min-w-full divide-y divide-slate-200 text-sm" aria-label="Environments">
            <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
              <tr>
                <th className="px-3 py-2">Project</th>
                <th className="px-3 py-2">Environment</th>
                <th className="px-3 py-2">Type</th>
                <th className="px-3 py-2">Current version</th>
                <th className="px-3 py-2 text-right">Workers</th>
                <th className="px-3 py-2">Current key</th>
                <th className="px-3 py-2 text-right">Fields</th>
                <th className="px-3 py-2">TTL</th>
                <th className="px-3 py-2">Drift (last sweep)</th>
                <th className="px-3 py-2">
                  <span className="sr-only">Links</span>
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {environments.map((env) => (
                <tr key={env.id} data-environment={`${env.projectSlug}/${env.slug}`} className="hover:bg-slate-50">
                  <td className="px-3 py-2 text-slate-700" title={env.projectName}>
                    {env.projectSlug}
                  </td>
                  <td className="px-3 py-2 font-medium">
                    <Link to={`/admin/environments/${env.id}/cache`} className="text-indigo-700 hover:underline">
                      {env.slug}
                    </Link>
                  </td>
                  <td className="px-3 py-2">
                    <Badge tone={TYPE_TONES[env.type]}>{env.type}</Badge>
                  </td>
                  <td className="px-3 py-2 font-mono text-xs">{env.currentVersion ?? <span className="text-slate-500">none</span>}</td>
                  <td className="px-3 py-2 text-right tabular-nums">{env.workerCount}</td>
                  <td className="px-3 py-2">
                    {!env.cache ? (
                      <span className="text-slate-500">unknown</span>
                    ) : env.cache.exists ? (
                      <span className="flex items-center gap-1.5">
                        <Badge tone="emerald">present</Badge>
                        {!env.cache.ownerMatches ? (
                          <span title="The hash was written for another worker than Postgres' current one" className="rounded bg-red-600 px-1.5 py-0.5 text-xs font-bold uppercase text-white">
                            Drift
                          </span>
                        ) : null}
                      </span>
                    ) : (
                      <Badge>absent</Badge>
                    )}
                  </td>
                  <td className="px-3 py-2 text-right tabular-nums">{env.cache?.exists ? env.cache.fieldCount : "—"}</td>
                  <td className="px-3 py-2">{env.cache ? <KeyTtl seconds={env.cache.ttlSeconds} /> : "—"}</td>
                  <td className="px-3 py-2" data-column="drift">
                    <DriftBadge cell={env.drift} />
                  </td>
                  <td className="px-3 py-2 text-right">
                    <Link to={`/admin/environments/${env.id}/cache`} className="text-xs font-medium text-indigo-600 hover:underline">
                      Cache →
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
