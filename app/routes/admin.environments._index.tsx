import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { EmptyState } from "~/components/EmptyState";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { requireAdminAction, requireUser } from "~/services/session.server";

export const meta: MetaFunction = () => [{ title: "Environments · Hotpath" }];

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

export default function EnvironmentsPage() {
  return (
    <div className="space-y-6">
      <PageHeader title="Environments" description="Each environment's current worker and what the task metadata cache holds for it." />
      <EmptyState title="Coming soon">The environment list and cache contents will appear here once the environments page is built.</EmptyState>
    </div>
  );
}
