import { type LoaderFunctionArgs } from "@remix-run/node";
import { Form, Outlet, useLoaderData } from "@remix-run/react";
import { AdminNav } from "~/components/AdminNav";
import { requireUser } from "~/services/session.server";

/**
 * The admin layout: navigation, the signed-in user and sign-out. Its loader only protects the
 * layout's own data — each child route must call requireUser (loader) and requireAdminAction
 * (action) itself, because Remix runs a child's action without the parent's loader.
 */
export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request);
  return { user: { email: user.email, role: user.role } };
}

const NAV = [
  { to: "/admin", label: "Overview", end: true },
  { to: "/admin/environments", label: "Environments", end: false },
  { to: "/admin/deployments", label: "Deployments", end: false },
  { to: "/admin/runs", label: "Runs", end: false },
  { to: "/admin/history", label: "History", end: false },
  { to: "/admin/users", label: "Users", end: false },
] as const;

export default function AdminLayout() {
  const { user } = useLoaderData<typeof loader>();
  return (
    <div className="flex min-h-full flex-col md:flex-row">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded-md focus:bg-white focus:px-3 focus:py-2 focus:text-sm focus:font-semibold focus:text-indigo-700 focus:shadow"
      >
        Skip to content
      </a>
      <aside className="flex shrink-0 flex-col gap-4 border-b border-slate-200 bg-white px-4 py-4 md:w-60 md:border-b-0 md:border-r md:py-6">
        <div className="flex items-center gap-2 px-2">
          <span aria-hidden className="h-2.5 w-2.5 rounded-full bg-orange-500" />
          <span className="text-base font-semibold tracking-tight text-slate-900">Hotpath</span>
        </div>
        <AdminNav items={NAV} />
        <div className="mt-auto flex items-center justify-between gap-2 border-t border-slate-200 px-2 pt-4 md:flex-col md:items-stretch">
          <div className="min-w-0">
            <p className="truncate text-sm text-slate-700" title={user.email}>
              {user.email}
            </p>
            <span
              className={`mt-1 inline-block rounded px-1.5 py-0.5 text-xs font-semibold ${
                user.role === "ADMIN" ? "bg-indigo-100 text-indigo-700" : "bg-slate-100 text-slate-600"
              }`}
            >
              {user.role}
            </span>
          </div>
          <Form method="post" action="/logout">
            <button
              type="submit"
              className="w-full rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50"
            >
              Sign out
            </button>
          </Form>
        </div>
      </aside>
      <main id="main" tabIndex={-1} className="min-w-0 flex-1 px-4 py-6 focus:outline-none sm:px-6 md:px-10 md:py-8">
        <Outlet />
      </main>
    </div>
  );
}
