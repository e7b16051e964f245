import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { CacheActionButtons } from "~/components/environmentCache/CacheActionButtons";
import { CacheActionConfirmation } from "~/components/environmentCache/CacheActionConfirmation";
import { CurrentHashFields } from "~/components/environmentCache/CurrentHashFields";
import { DriftBanner, DriftOnlyFields } from "~/components/environmentCache/DriftFields";
import { NotCachedYetList } from "~/components/environmentCache/NotCachedYetList";
import { PostgresAndRedisSummary } from "~/components/environmentCache/PostgresAndRedisSummary";
import { WorkerHashes } from "~/components/environmentCache/WorkerHashes";
import { FlashMessage } from "~/components/FlashMessage";
import { Notice } from "~/components/Notice";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { useSearchHref } from "~/components/useSearchHref";
import { isScanCursor, SCAN_CURSOR_MESSAGE } from "~/domain/scanCursor";
import { httpError } from "~/httpError.server";
import { cacheDrift } from "~/presenters/drift.server";
import { environmentCachePage } from "~/presenters/environmentCache.server";
import { loadPageData } from "~/presenters/pageData.server";
import { runAdminAction } from "~/services/adminAction.server";
import { readFlash } from "~/services/flash.server";
import { requireAdminAction, requireUser } from "~/services/session.server";
import { readForm } from "~/services/pageForm.server";
import {
  deleteCurrentHashField,
  invalidateCurrentHash,
  rebuildCurrentHash,
  taskMetadataCacheAdmin,
} from "~/services/taskMetadata/index.server";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `${data?.page ? `${data.page.environment.projectSlug} / ${data.page.environment.slug}` : "Environment"} cache · Hotpath` },
];

const ID = /^[A-Za-z0-9_-]{1,64}$/;
// An out-of-range cursor is the client's mistake (400), not "Redis unavailable".
const cursor = z.string().refine(isScanCursor, SCAN_CURSOR_MESSAGE).default("0");
const blank = (v: unknown) => (v === "" ? undefined : v);

const QuerySchema = z.object({
  cursor: z.preprocess(blank, cursor),
  wcursor: z.preprocess(blank, cursor),
  q: z.preprocess(blank, z.string().max(200).default("")),
  confirm: z.preprocess(blank, z.enum(["rebuild", "invalidate", "delete-field"]).optional()),
  field: z.preprocess(blank, z.string().max(512).optional()),
  drift: z.preprocess(blank, z.enum(["1"]).optional()),
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
  // Drift now, field by field where the digests differ (the banner and the drift-only filter).
  const drift = page.redis.ok ? await loadPageData("environment cache", () => cacheDrift(page.environment)) : null;
  const { flash, headers } = await readFlash(request);
  const isAdmin = user.role === "ADMIN";
  // Every action here writes the cache: while its Redis cannot be read, they are disabled with the reason.
  const writeBlocked = page.redis.ok ? null : "Disabled while Redis (the task metadata cache) is unreachable: these actions write it. Try again once GET /healthz reports Redis up.";
  const confirm =
    isAdmin && !writeBlocked && query.confirm && (query.confirm !== "delete-field" || query.field) ? { intent: query.confirm, field: query.field ?? null } : null;
  return data({ page, isAdmin, confirm, filter: query.q, driftOnly: query.drift === "1", drift, writeBlocked, flash }, { headers });
}

const ActionSchema = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("rebuild"), confirmTarget: z.string() }),
  z.object({ intent: z.literal("invalidate"), confirmTarget: z.string() }),
  z.object({ intent: z.literal("delete-field"), confirmTarget: z.string(), field: z.string().min(1).max(512) }),
]);

export async function action({ request, params }: ActionFunctionArgs) {
  const user = await requireAdminAction(request);
  const environmentId = environmentIdParam(params.envId);
  const parsed = ActionSchema.safeParse(await readForm(request));
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

export default function EnvironmentCachePage() {
  const { page, isAdmin, confirm, filter, driftOnly, drift, writeBlocked, flash } = useLoaderData<typeof loader>();
  const href = useSearchHref();
  const { environment, currentWorker, keys, redis } = page;
  return (
    <div className="space-y-6">
      <PageHeader
        title={`Cache · ${environment.projectSlug} / ${environment.slug}`}
        description={
          <>
            What Redis holds for this {environment.type.toLowerCase()} environment, compared field by field with Postgres.{" "}
            <Link to="/admin/environments" className="text-indigo-700 underline">
              All environments
            </Link>
          </>
        }
        actions={<CacheActionButtons isAdmin={isAdmin} href={href} blocked={writeBlocked} />}
      />
      <FlashMessage flash={flash} />
      <CacheActionConfirmation confirm={confirm} keys={keys} currentWorker={currentWorker} cancel={href({ confirm: null, field: null })} />
      <PostgresAndRedisSummary currentWorker={currentWorker} keys={keys} redis={redis} />
      {redis.ok ? (
        <>
          {redis.ownerDrift ? (
            <Notice title="Drift: the hash belongs to another worker">
              Redis says this hash was written for {redis.owner ? `version ${redis.owner.version ?? "?"} (${redis.owner.id})` : "no worker"}, but Postgres'
              current worker is {currentWorker ? `version ${currentWorker.version}` : "none"}. Rebuild from Postgres to repair it.
            </Notice>
          ) : null}
          {drift ? <DriftBanner drift={drift} driftOnly={driftOnly} href={href} /> : null}
          {driftOnly && drift ? (
            <DriftOnlyFields rows={drift.rows} isAdmin={isAdmin} href={href} />
          ) : (
            <CurrentHashFields redis={redis} filter={filter} isAdmin={isAdmin} href={href} />
          )}
          <NotCachedYetList notCachedYet={redis.notCachedYet} />
          <WorkerHashes environmentId={environment.id} redis={redis} href={href} />
        </>
      ) : (
        <Notice title="Redis is unavailable">{redis.error}</Notice>
      )}
    </div>
  );
}
