import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Badge } from "~/components/Badge";
import { CacheFieldsTable } from "~/components/CacheFieldsTable";
import { ConfirmAction } from "~/components/ConfirmAction";
import { EmptyState } from "~/components/EmptyState";
import { FieldFilterForm } from "~/components/FieldFilterForm";
import { FlashMessage } from "~/components/FlashMessage";
import { KeyTtl } from "~/components/KeyTtl";
import { Notice } from "~/components/Notice";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { ScanPager } from "~/components/ScanPager";
import { useLoadMore } from "~/components/useLoadMore";
import { useSearchHref } from "~/components/useSearchHref";
import { environmentCachePage } from "~/presenters/environmentCache.server";
import { loadPageData } from "~/presenters/pageData.server";
import { runAdminAction } from "~/services/adminAction.server";
import { readFlash } from "~/services/flash.server";
import { requireAdminAction, requireUser } from "~/services/session.server";
import {
  deleteCurrentHashField,
  invalidateCurrentHash,
  rebuildCurrentHash,
  taskMetadataCacheAdmin,
} from "~/services/taskMetadataCacheAdmin.server";
import { httpError } from "~/httpError.server";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `${data?.page ? `${data.page.environment.projectSlug} / ${data.page.environment.slug}` : "Environment"} cache · Hotpath` },
];

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const cursor = z.string().regex(/^\d{1,20}$/, "must be a SCAN cursor (digits)").default("0");
const blank = (v: unknown) => (v === "" ? undefined : v);

const QuerySchema = z.object({
  cursor: z.preprocess(blank, cursor),
  wcursor: z.preprocess(blank, cursor),
  q: z.preprocess(blank, z.string().max(200).default("")),
  confirm: z.preprocess(blank, z.enum(["rebuild", "invalidate", "delete-field"]).optional()),
  field: z.preprocess(blank, z.string().max(512).optional()),
});

function environmentIdParam(value: string | undefined): string {
  if (!value || !ID.test(value)) throw httpError(404, `No environment with id '${value ?? ""}'.`);
  return value;
}

export async function loader({ request, params }: LoaderFunctionArgs) {
  const user = await requireUser(request);
  const environmentId = environmentIdParam(params.envId);
  const parsed = QuerySchema.safeParse(Object.fromEntries(new URL(request.url).searchParams));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw httpError(400, `Query parameter '${String(issue.path[0])}': ${issue.message}`);
  }
  const query = parsed.data;
  const page = await loadPageData("environment cache", () =>
    environmentCachePage(environmentId, { cursor: query.cursor, filter: query.q, workersCursor: query.wcursor }),
  );
  if (!page) throw httpError(404, `No environment with id '${environmentId}'.`);
  const { flash, headers } = await readFlash(request);
  const isAdmin = user.role === "ADMIN";
  const confirm = isAdmin && query.confirm && (query.confirm !== "delete-field" || query.field) ? { intent: query.confirm, field: query.field ?? null } : null;
  return data({ page, isAdmin, confirm, filter: query.q, flash }, { headers });
}

const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("rebuild"), confirmTarget: z.string() }),
  z.object({ intent: z.literal("invalidate"), confirmTarget: z.string() }),
  z.object({ intent: z.literal("delete-field"), confirmTarget: z.string(), field: z.string().min(1).max(512) }),
]);

export async function action({ request, params }: ActionFunctionArgs) {
  const user = await requireAdminAction(request);
  const environmentId = environmentIdParam(params.envId);
  const parsed = ActionSchema.safeParse(Object.fromEntries(await request.formData()));
  if (!parsed.success) throw httpError(400, "Unknown or incomplete cache action.");
  const form = parsed.data;
  const key = taskMetadataCacheAdmin().keys(environmentId).current;
  if (form.confirmTarget !== key) {
    throw httpError(409, `This confirmation named '${form.confirmTarget}', but the action would change '${key}'. Reload the page and confirm again.`);
  }
  const back = `/admin/environments/${environmentId}/cache`;
  const context = { environmentId, userId: user.id };
  switch (form.intent) {
    case "rebuild":
      return runAdminAction("Rebuild", back, async () => {
        const result = await rebuildCurrentHash(context);
        return result.workerId
          ? `Rebuilt ${result.key} from Postgres: ${result.fields} task${result.fields === 1 ? "" : "s"} of version ${result.version}.`
          : `No current worker in Postgres, so ${result.key} was cleared.`;
      });
    case "invalidate":
      return runAdminAction("Invalidate", back, async () => {
        const result = await invalidateCurrentHash(context);
        return result.deletedKeys > 0
          ? `Invalidated ${result.key} (and its owner key). Triggers fall back to Postgres and back-fill it.`
          : `${result.key} did not exist; nothing to invalidate.`;
      });
    case "delete-field":
      return runAdminAction("Delete field", back, async () => {
        const result = await deleteCurrentHashField({ ...context, slug: form.field });
        return result.deleted ? `Deleted field '${result.field}' from ${result.key}.` : `Field '${result.field}' was not in ${result.key}.`;
      });
  }
}

export const ErrorBoundary = RouteErrorPanel;

const NO_STEP = { cursor: "0", nextCursor: "0", items: [] as never[] };

export default function EnvironmentCachePage() {
  const { page, isAdmin, confirm, filter, flash } = useLoaderData<typeof loader>();
  const href = useSearchHref();
  const { environment, currentWorker, keys, redis } = page;
  const cancel = href({ confirm: null, field: null });

  const fields = useLoadMore(
    redis.ok ? { cursor: redis.current.cursor, nextCursor: redis.current.nextCursor, items: redis.current.rows } : NO_STEP,
    filter,
    (row) => row.field,
  );
  const workers = useLoadMore(redis.ok ? redis.workerHashes : NO_STEP, "", (w) => w.key);

  return (
    <div className="space-y-6">
      <PageHeader
        title={`Cache · ${environment.projectSlug} / ${environment.slug}`}
        description={
          <>
            What Redis holds for this {environment.type.toLowerCase()} environment, compared field by field with Postgres.{" "}
            <Link to="/admin/environments" className="text-indigo-600 hover:underline">
              All environments
            </Link>
          </>
        }
        actions={
          isAdmin ? (
            <>
              <Link to={href({ confirm: "rebuild", field: null })} preventScrollReset className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500">
                Rebuild from Postgres
              </Link>
              <Link to={href({ confirm: "invalidate", field: null })} preventScrollReset className="rounded-md border border-red-300 bg-white px-3 py-1.5 text-sm font-semibold text-red-700 hover:bg-red-50">
                Invalidate
              </Link>
            </>
          ) : (
            <Badge title="Sign in as an ADMIN to rebuild, invalidate or delete fields">read-only (VIEWER)</Badge>
          )
        }
      />

      <FlashMessage flash={flash} />

      {confirm?.intent === "rebuild" ? (
        <ConfirmAction title="Rebuild the current hash from Postgres?" target={keys.current} intent="rebuild" submitLabel="Rebuild this key" cancelTo={cancel}>
          {currentWorker
            ? `Replaces the hash and its owner atomically with the ${currentWorker.taskCount} tasks of version ${currentWorker.version} (the same write as a promotion).`
            : "Postgres has no current worker for this environment, so the hash and its owner are cleared."}
        </ConfirmAction>
      ) : confirm?.intent === "invalidate" ? (
        <ConfirmAction title="Invalidate the current hash?" target={keys.current} intent="invalidate" submitLabel="Delete this key" cancelTo={cancel} danger>
          Deletes this key and <code className="font-mono text-xs">{keys.owner}</code>. Triggers then read Postgres and back-fill the hash field by field.
        </ConfirmAction>
      ) : confirm?.intent === "delete-field" && confirm.field ? (
        <ConfirmAction
          title={`Delete field '${confirm.field}'?`}
          target={keys.current}
          intent="delete-field"
          fields={{ field: confirm.field }}
          submitLabel="Delete this field"
          cancelTo={cancel}
          danger
        >
          Removes the field <code className="font-mono text-xs">{confirm.field}</code> from this key; the next trigger of that task back-fills it from Postgres.
        </ConfirmAction>
      ) : null}

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
            <dd className="break-all font-mono text-xs" data-testid="current-key">{keys.current}</dd>
            {redis.ok ? (
              <>
                <dt className="text-slate-500">Fields</dt>
                <dd data-testid="current-field-count">{redis.status.exists ? redis.status.fieldCount : "key absent"}</dd>
                <dt className="text-slate-500">TTL</dt>
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

      {!redis.ok ? (
        <Notice title="Redis is unavailable">{redis.error}</Notice>
      ) : (
        <>
          {redis.ownerDrift ? (
            <Notice title="Drift: the hash belongs to another worker">
              Redis says this hash was written for {redis.owner ? `version ${redis.owner.version ?? "?"} (${redis.owner.id})` : "no worker"}, but Postgres'
              current worker is {currentWorker ? `version ${currentWorker.version}` : "none"}. Rebuild from Postgres to repair it.
            </Notice>
          ) : null}

          <section className="space-y-3">
            <div className="flex flex-wrap items-end justify-between gap-3">
              <div>
                <h2 className="text-base font-semibold text-slate-900">Current hash fields</h2>
                <p className="text-sm text-slate-500">Read with HSCAN, a page at a time; DRIFT marks a field that disagrees with Postgres.</p>
              </div>
              <FieldFilterForm filter={filter} />
            </div>
            {fields.items.length === 0 ? (
              <EmptyState
                title={
                  fields.step.nextCursor !== "0"
                    ? "No fields on this page"
                    : filter
                      ? `No fields match '${filter}'`
                      : redis.status.exists
                        ? "The current hash has no fields"
                        : "The current hash is not in Redis"
                }
              >
                {fields.step.nextCursor !== "0" ? (
                  "Load more to continue the scan."
                ) : filter ? (
                  <Link to={href({ q: null, cursor: null })} className="text-indigo-600 hover:underline">
                    Clear the filter
                  </Link>
                ) : redis.status.exists ? (
                  "Load more to continue the scan."
                ) : (
                  "It is written on promotion (or a dev registration) and back-filled by triggers; an ADMIN can rebuild it from Postgres."
                )}
              </EmptyState>
            ) : (
              <CacheFieldsTable
                rows={fields.items}
                label="Current hash fields"
                deleteHref={isAdmin ? (field) => href({ confirm: "delete-field", field }) : undefined}
              />
            )}
            <ScanPager nextCursor={fields.step.nextCursor} fromStart={fields.fromStart} />
          </section>

          {redis.notCachedYet && redis.notCachedYet.total > 0 ? (
            <section className="space-y-2" aria-label="Not cached yet">
              <h2 className="text-base font-semibold text-slate-900">
                Not cached yet <span className="font-normal text-slate-500">({redis.notCachedYet.total})</span>
              </h2>
              <p className="text-sm text-slate-500">Tasks of the current worker with no field in the hash. Not drift: the first trigger of each back-fills it.</p>
              <ul className="flex flex-wrap gap-1.5">
                {redis.notCachedYet.slugs.map((slug) => (
                  <li key={slug} className="rounded bg-slate-100 px-2 py-0.5 font-mono text-xs text-slate-700">
                    {slug}
                  </li>
                ))}
                {redis.notCachedYet.total > redis.notCachedYet.slugs.length ? (
                  <li className="px-2 py-0.5 text-xs text-slate-500">and {redis.notCachedYet.total - redis.notCachedYet.slugs.length} more</li>
                ) : null}
              </ul>
            </section>
          ) : null}

          <section className="space-y-3">
            <div>
              <h2 className="text-base font-semibold text-slate-900">Worker hashes</h2>
              <p className="text-sm text-slate-500">
                This environment's keys, found with SCAN MATCH on its hash tag (never KEYS); a page walks the keyspace until it finds some or has walked 100 steps.
              </p>
            </div>
            {workers.items.length === 0 ? (
              <EmptyState title={workers.step.nextCursor === "0" ? "No worker hashes in Redis" : "None on this page"}>
                {workers.step.nextCursor === "0"
                  ? "A worker's hash is written when it is registered or promoted, and back-filled by version-locked triggers."
                  : "Load more to continue the scan."}
              </EmptyState>
            ) : (
              <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
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
                    {workers.items.map((w) => (
                      <tr key={w.key}>
                        <td className="px-3 py-2">
                          <Link to={`/admin/environments/${environment.id}/cache/workers/${w.workerId}`} className="font-mono text-xs text-indigo-700 hover:underline">
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
            )}
            {workers.step.nextCursor !== "0" ? (
              <Link to={href({ wcursor: workers.step.nextCursor })} preventScrollReset className="text-sm font-medium text-indigo-600 hover:underline">
                Load more worker hashes
              </Link>
            ) : null}
          </section>
        </>
      )}
    </div>
  );
}
