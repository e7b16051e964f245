import { json, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, useLoaderData } from "@remix-run/react";
import { z } from "zod";
import { Badge } from "~/components/Badge";
import { FlashMessage } from "~/components/FlashMessage";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { loadPageData } from "~/presenters/pageData.server";
import { usersPage } from "~/presenters/users.server";
import { runAdminAction } from "~/services/adminAction.server";
import { readFlash } from "~/services/flash.server";
import { requireAdminAction, requireUser, sessionToken } from "~/services/session.server";
import { changeRole, signOutEverywhere } from "~/services/usersAdmin.server";
import { readForm } from "~/services/pageForm.server";

export const meta: MetaFunction = () => [{ title: "Users · Hotpath" }];

export async function loader({ request }: LoaderFunctionArgs) {
  const user = await requireUser(request);
  const users = await loadPageData("users", () => usersPage());
  const { flash, headers } = await readFlash(request);
  return json({ users, isAdmin: user.role === "ADMIN", me: user.id, flash }, { headers });
}

const ID = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "is not a user id");
const UserForm = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("sign-out-everywhere"), userId: ID }),
  z.object({ intent: z.literal("role"), userId: ID, role: z.enum(["ADMIN", "VIEWER"]) }),
]);

export async function action({ request }: ActionFunctionArgs) {
  const user = await requireAdminAction(request);
  const parsed = UserForm.safeParse(await readForm(request));
  if (!parsed.success) throw new Response("Unknown or incomplete user action.", { status: 400, statusText: "Bad Request" });
  const form = parsed.data;
  const actor = { id: user.id, token: await sessionToken(request) };
  if (form.intent === "role") return runAdminAction("Role change", "/admin/users", () => changeRole(form.userId, form.role, actor));
  return runAdminAction("Sign-out everywhere", "/admin/users", () => signOutEverywhere(form.userId, actor));
}

export const ErrorBoundary = RouteErrorPanel;

export default function UsersPage() {
  const { users, isAdmin, me, flash } = useLoaderData<typeof loader>();
  return (
    <div className="space-y-6">
      <PageHeader
        title="Users"
        description="Who can sign in, with which role, and how many sessions each has open. Signing a user out everywhere, or changing their role, ends their sessions at once."
        actions={isAdmin ? null : <Badge title="Sign in as an ADMIN to change users">read-only (VIEWER)</Badge>}
      />
      <FlashMessage flash={flash} />
      <div tabIndex={0} role="region" aria-label="Users table" className="relative overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="min-w-full divide-y divide-slate-200 text-sm" aria-label="Users">
          <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
            <tr>
              <th className="px-3 py-2">Email</th>
              <th className="px-3 py-2">Role</th>
              <th className="px-3 py-2 text-right">Open sessions</th>
              <th className="px-3 py-2 text-right">{isAdmin ? "Actions" : <span className="sr-only">Actions (admins only)</span>}</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {users.map((u) => (
              <tr key={u.id} data-user={u.email}>
                <td className="px-3 py-2 text-slate-800">
                  {u.email} {u.id === me ? <span className="text-xs text-slate-500">(you)</span> : null}
                </td>
                <td className="px-3 py-2">{u.role}</td>
                <td className="px-3 py-2 text-right tabular-nums">{u.sessions}</td>
                <td className="px-3 py-2">
                  {isAdmin ? (
                    <div className="flex justify-end gap-2">
                      <Form method="post">
                        <input type="hidden" name="userId" value={u.id} />
                        <input type="hidden" name="intent" value="role" />
                        <input type="hidden" name="role" value={u.role === "ADMIN" ? "VIEWER" : "ADMIN"} />
                        <button type="submit" className="rounded-md border border-slate-300 px-2.5 py-1 text-xs font-medium text-slate-700 hover:bg-slate-50">
                          Make {u.role === "ADMIN" ? "VIEWER" : "ADMIN"}
                        </button>
                      </Form>
                      <Form method="post">
                        <input type="hidden" name="userId" value={u.id} />
                        <input type="hidden" name="intent" value="sign-out-everywhere" />
                        <button type="submit" className="rounded-md border border-red-300 px-2.5 py-1 text-xs font-medium text-red-700 hover:bg-red-50">
                          Sign out everywhere
                        </button>
                      </Form>
                    </div>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
