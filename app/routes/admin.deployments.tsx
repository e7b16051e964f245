import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { EmptyState } from "~/components/EmptyState";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { requireAdminAction, requireUser } from "~/services/session.server";

export const meta: MetaFunction = () => [{ title: "Deployments · Hotpath" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  return null;
}

// Placeholder until the admin pages land: no action yet, but guarded like every admin action so a
// POST without a session or from a VIEWER is refused before anything else.
export async function action({ request }: ActionFunctionArgs) {
  await requireAdminAction(request);
  throw new Response("This page has no actions yet.", { status: 405, statusText: "Method Not Allowed" });
}

export const ErrorBoundary = RouteErrorPanel;

export default function DeploymentsPage() {
  return (
    <div className="space-y-6">
      <PageHeader title="Deployments" description="Registered worker versions per environment, which one is current, and promotion or roll-back." />
      <EmptyState title="Coming soon">Deployments and the promote / roll back actions will appear here once the deployments page is built.</EmptyState>
    </div>
  );
}
