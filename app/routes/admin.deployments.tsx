import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Badge } from "~/components/Badge";
import { ConfirmAction } from "~/components/ConfirmAction";
import { EnvironmentVersions } from "~/components/deployments/EnvironmentVersions";
import { PromotionDiff } from "~/components/deployments/PromotionDiff";
import { EmptyState } from "~/components/EmptyState";
import { FlashMessage } from "~/components/FlashMessage";
import { Notice } from "~/components/Notice";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { useSearchHref } from "~/components/useSearchHref";
import { environmentKeys } from "~/domain/cacheKeys";
import { httpError } from "~/httpError.server";
import { keyPrefix } from "~/redis.server";
import { deploymentsPage } from "~/presenters/deployments.server";
import { loadPageData } from "~/presenters/pageData.server";
import { runAdminAction } from "~/services/adminAction.server";
import { cacheWriteBlocker } from "~/services/cacheWritable.server";
import { previewPromotion } from "~/services/promotionPreview.server";
import { promoteFromAdmin } from "~/services/deploymentsAdmin.server";
import { readFlash } from "~/services/flash.server";
import { requireAdminAction, requireUser } from "~/services/session.server";
import { readForm } from "~/services/pageForm.server";

export const meta: MetaFunction = () => [{ title: "Deployments · Hotpath" }];

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const blank = (v: unknown) => (v === "" ? undefined : v);
const QuerySchema = z.object({
  env: z.preprocess(blank, z.string().regex(ID, "is not an environment id").optional()),
  confirm: z.preprocess(blank, z.string().regex(ID, "is not a worker id").optional()),
});

export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request);
  const parsed = QuerySchema.safeParse(Object.fromEntries(new URL(request.url).searchParams));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw httpError(400, `Query parameter '${String(issue.path[0])}' ${issue.message}.`);
  }
  const { env, confirm } = parsed.data;
  const page = await loadPageData("deployments", () => deploymentsPage({ environmentId: env }));
  if (env && page.environments.length === 0) throw httpError(404, `No environment with id '${env}'.`);
  const { flash, headers } = await readFlash(request);
  const isAdmin = user.role === "ADMIN";

  // Write actions need the cache's Redis: while it is unreachable they are disabled, with the reason.
  const writeBlocked = isAdmin ? await cacheWriteBlocker() : null;
  // The confirmation step names the version, the environment and the key the promotion rewrites,
  // and shows the promotion's diff before anything happens.
  let confirmation = null;
  if (isAdmin && confirm && !writeBlocked) {
    for (const environment of page.environments) {
      const version = environment.versions.find((v) => v.workerId === confirm && v.promotable);
      if (version) {
        confirmation = {
          environmentId: environment.id,
          environmentLabel: `${environment.projectSlug} / ${environment.slug}`,
          production: environment.type === "PRODUCTION",
          workerId: version.workerId,
          version: version.version,
          kind: version.promoteKind,
          currentVersion: environment.currentVersion,
          key: environmentKeys(keyPrefix(), environment.id).current,
          preview: await loadPageData("promotion preview", () => previewPromotion({ environmentId: environment.id, version: version.version })),
        };
      }
    }
  }
  return data({ page, isAdmin, writeBlocked, confirmation, flash }, { headers });
}

const PromoteForm = z.object({
  intent: z.literal("promote"),
  environmentId: z.string().regex(ID),
  version: z.string().min(1).max(256),
  confirmTarget: z.string(),
  typedConfirmation: z.string().max(256).optional(),
});

export async function action({ request }: ActionFunctionArgs) {
  const user = await requireAdminAction(request);
  const parsed = PromoteForm.safeParse(await readForm(request));
  if (!parsed.success) throw httpError(400, "Unknown or incomplete deployment action.");
  const { environmentId, version, confirmTarget, typedConfirmation } = parsed.data;
  if (confirmTarget !== version) {
    throw httpError(409, `This confirmation named version '${confirmTarget}', but the form promotes '${version}'. Reload and confirm again.`);
  }
  const back = new URL(request.url).searchParams.get("env") ? `/admin/deployments?env=${environmentId}` : "/admin/deployments";
  return runAdminAction("Promotion", back, async () => {
    const result = await promoteFromAdmin({ environmentId, version, userId: user.id, typedConfirmation });
    const verb = result.rollback ? "Rolled back to" : "Promoted";
    return `${verb} version ${result.version}${result.previousVersion ? ` (was ${result.previousVersion})` : ""}.`;
  });
}

export const ErrorBoundary = RouteErrorPanel;

export default function DeploymentsPage() {
  const { page, isAdmin, writeBlocked, confirmation, flash } = useLoaderData<typeof loader>();
  const href = useSearchHref();
  const withConfirm = (workerId: string | null) => href({ confirm: workerId });

  return (
    <div className="space-y-6">
      <PageHeader
        title="Deployments"
        description={
          <>
            Worker versions per environment, newest first. Promoting makes a version current and rewrites the environment's current hash; a
            roll-back is a promotion of an older version.
            {page.focusedEnvironmentId ? (
              <>
                {" "}
                <Link to="/admin/deployments" className="text-indigo-600 hover:underline">
                  All environments
                </Link>
              </>
            ) : null}
          </>
        }
        actions={isAdmin ? null : <Badge title="Sign in as an ADMIN to promote or roll back">read-only (VIEWER)</Badge>}
      />
      <FlashMessage flash={flash} />

      {writeBlocked ? <Notice title="Promote and roll back are disabled">{writeBlocked}</Notice> : null}
      {page.environments.length === 0 ? (
        <EmptyState title="No environments yet">Run the seed (npm run db:seed) or create a project; its deployments appear here.</EmptyState>
      ) : (
        page.environments.map((env) => (
          <EnvironmentVersions
            key={env.id}
            environment={env}
            isAdmin={isAdmin}
            writeBlocked={writeBlocked}
            focused={Boolean(page.focusedEnvironmentId)}
            confirmHref={withConfirm}
            confirmation={confirmation?.environmentId === env.id ? <PromotionConfirmation confirmation={confirmation} cancelTo={withConfirm(null)} /> : null}
          />
        ))
      )}
    </div>
  );
}

type PendingPromotion = NonNullable<ReturnType<typeof useLoaderData<typeof loader>>["confirmation"]>;

/** The promotion's confirmation, beside the versions it was opened from, with its diff. */
function PromotionConfirmation({ confirmation, cancelTo }: { confirmation: PendingPromotion; cancelTo: string }) {
  const rollback = confirmation.kind === "rollback";
  return (
    <ConfirmAction
      title={`${rollback ? "Roll back" : "Promote"} ${confirmation.environmentLabel} to version ${confirmation.version}?`}
      target={confirmation.version}
      intent="promote"
      fields={{ environmentId: confirmation.environmentId, version: confirmation.version }}
      submitLabel={rollback ? "Roll back" : "Promote"}
      cancelTo={cancelTo}
      danger={rollback || confirmation.production}
      returnFocusTo={`[data-promote-for="${confirmation.workerId}"]`}
      typeToConfirm={confirmation.production ? confirmation.version : undefined}
    >
      <p>
        The current version is {confirmation.currentVersion ?? "none"}. Triggers resolve against version {confirmation.version} once it is current,
        and <code className="break-all font-mono text-xs">{confirmation.key}</code> is replaced with its tasks.
      </p>
      <PromotionDiff preview={confirmation.preview} />
    </ConfirmAction>
  );
}
