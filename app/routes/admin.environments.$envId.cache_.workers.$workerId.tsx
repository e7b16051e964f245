import { type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Badge } from "~/components/Badge";
import { CacheFieldsTable } from "~/components/CacheFieldsTable";
import { EmptyState } from "~/components/EmptyState";
import { FieldFilterForm } from "~/components/FieldFilterForm";
import { KeyTtl } from "~/components/KeyTtl";
import { Notice } from "~/components/Notice";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { ScanPager } from "~/components/ScanPager";
import { useLoadMore } from "~/components/useLoadMore";
import { useSearchHref } from "~/components/useSearchHref";
import { isScanCursor, SCAN_CURSOR_MESSAGE } from "~/domain/scanCursor";
import { httpError } from "~/httpError.server";
import { workerHashPage } from "~/presenters/environmentCache.server";
import { loadPageData } from "~/presenters/pageData.server";
import { requireUser } from "~/services/session.server";

export const meta: MetaFunction<typeof loader> = ({ data, params }) => [
  {
    title: data?.page
      ? `Worker ${data.page.worker?.version ?? params.workerId ?? ""} cache of ${data.page.environment.projectSlug} / ${data.page.environment.slug} · Hotpath`
      : "Worker cache · Hotpath",
  },
];

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const blank = (v: unknown) => (v === "" ? undefined : v);
const QuerySchema = z.object({
  cursor: z.preprocess(blank, z.string().refine(isScanCursor, SCAN_CURSOR_MESSAGE).default("0")),
  q: z.preprocess(blank, z.string().max(200).default("")),
});

// Read-only page: the repairs act on the current hash (a worker hash is rewritten by registration,
// promotion and back-fills), so there is no action here.
export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireUser(request);
  const { envId, workerId } = params;
  if (!envId || !ID.test(envId) || !workerId || !ID.test(workerId)) {
    throw httpError(404, "No such environment or worker.");
  }
  const parsed = QuerySchema.safeParse(Object.fromEntries(new URL(request.url).searchParams));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw httpError(400, `Query parameter '${String(issue.path[0])}': ${issue.message}`);
  }
  const page = await loadPageData("worker hash", () => workerHashPage(envId, workerId, { cursor: parsed.data.cursor, filter: parsed.data.q }));
  if (!page) throw httpError(404, `No environment with id '${envId}'.`);
  return { page, filter: parsed.data.q };
}

export const ErrorBoundary = RouteErrorPanel;

const NO_STEP = { cursor: "0", nextCursor: "0", items: [] as never[] };

export default function WorkerHashPage() {
  const { page, filter } = useLoaderData<typeof loader>();
  const href = useSearchHref();
  const { environment, worker, redis } = page;
  const fields = useLoadMore(
    redis.ok ? { cursor: redis.page.cursor, nextCursor: redis.page.nextCursor, items: redis.page.rows } : NO_STEP,
    filter,
    (row) => row.field,
  );

  return (
    <div className="space-y-6">
      <PageHeader
        title={`Worker hash · ${worker ? worker.version : page.workerId}`}
        description={
          <>
            {environment.projectSlug} / {environment.slug}.{" "}
            <Link to={`/admin/environments/${environment.id}/cache`} className="text-indigo-600 hover:underline">
              Back to the environment cache
            </Link>
          </>
        }
        actions={worker?.isCurrent ? <Badge tone="emerald">current worker</Badge> : null}
      />

      <dl className="grid grid-cols-[8rem_1fr] gap-y-1 rounded-lg border border-slate-200 bg-white p-4 text-sm">
        <dt className="text-slate-500">Key</dt>
        <dd className="break-all font-mono text-xs" data-testid="worker-key">{page.key}</dd>
        <dt className="text-slate-500">Postgres</dt>
        <dd>{worker ? `version ${worker.version}, ${worker.taskCount} tasks` : "no such worker in this environment (a key left behind?)"}</dd>
        {redis.ok ? (
          <>
            <dt className="text-slate-500">Fields</dt>
            <dd>{redis.ttlSeconds === -2 ? "key absent" : redis.fieldCount}</dd>
            <dt className="text-slate-500">TTL</dt>
            <dd>
              <KeyTtl seconds={redis.ttlSeconds} />
            </dd>
          </>
        ) : null}
      </dl>

      {!redis.ok ? (
        <Notice title="Redis is unavailable">{redis.error}</Notice>
      ) : (
        <section className="space-y-3">
          <div className="flex flex-wrap items-end justify-between gap-3">
            <p className="text-sm text-slate-500">Read from Redis a page at a time; the filter keeps field names that contain the text.</p>
            <FieldFilterForm filter={filter} />
          </div>
          {fields.items.length === 0 ? (
            <EmptyState title={filter ? `No fields match '${filter}' on this page` : redis.ttlSeconds === -2 ? "This hash is not in Redis" : "No fields on this page"}>
              {fields.step.nextCursor !== "0" ? "Load more to continue the scan." : filter ? (
                <Link to={href({ q: null, cursor: null })} className="text-indigo-600 hover:underline">
                  Clear the filter
                </Link>
              ) : null}
            </EmptyState>
          ) : (
            <CacheFieldsTable rows={fields.items} label="Worker hash fields" />
          )}
          <ScanPager nextCursor={fields.step.nextCursor} fromStart={fields.fromStart} />
        </section>
      )}
    </div>
  );
}
