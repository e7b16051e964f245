import { type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { EmptyState } from "~/components/EmptyState";
import { EnvironmentsPager, EnvironmentsSearch } from "~/components/environments/EnvironmentsSearch";
import { EnvironmentsTable } from "~/components/environments/EnvironmentsTable";
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
  const search = new URL(request.url).searchParams;
  return await loadPageData("environments", () =>
    environmentsPage({ q: search.get("q"), after: search.get("after"), before: search.get("before") }),
  );
}

// The list only reads; its action is guarded like every admin action so a forged POST is refused.
export async function action({ request }: ActionFunctionArgs) {
  await requireAdminAction(request);
  throw httpError(405, "The environments list has no actions; the repairs are on each environment's cache page.");
}

export const ErrorBoundary = RouteErrorPanel;

export default function EnvironmentsPage() {
  const page = useLoaderData<typeof loader>();
  const { environments, redisError } = page;
  return (
    <div className="space-y-6">
      <PageHeader
        title="Environments"
        description="Each environment's current worker (Postgres) beside its current hash in the task metadata cache (Redis), and what the sweep last found comparing the two."
      />
      {redisError ? <Notice title="Redis is unavailable">{redisError}</Notice> : null}
      {page.matching === 0 && !page.query ? (
        <EmptyState title="No environments yet">Run the seed (npm run db:seed) or create a project; its environments appear here.</EmptyState>
      ) : (
        <>
          <EnvironmentsSearch page={page} />
          {environments.length === 0 ? (
            <EmptyState title="No environment matches">Nothing has “{page.query}” in its project, slug or id.</EmptyState>
          ) : (
            <EnvironmentsTable environments={environments} />
          )}
          <EnvironmentsPager page={page} />
        </>
      )}
    </div>
  );
}
