import {
  data,
  redirect,
  type ActionFunctionArgs,
  type HeadersFunction,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, useActionData, useNavigation, useSearchParams } from "@remix-run/react";
import { z } from "zod";
import { safeRedirect } from "~/domain/safeRedirect";
import { unstorableText } from "~/domain/storableInput";
import { attemptLogin, clientAddressOf } from "~/services/auth.server";
import { assertSameOrigin, createUserSession, getUser } from "~/services/session.server";
import { readForm } from "~/services/pageForm.server";

export const meta: MetaFunction = () => [{ title: "Sign in · Hotpath" }];

// A page response takes its headers from here, not from the action's Response: pass Retry-After on.
export const headers: HeadersFunction = ({ actionHeaders }) => {
  const retryAfter = actionHeaders.get("Retry-After");
  return retryAfter ? { "Retry-After": retryAfter } : new Headers();
};

export async function loader({ request }: LoaderFunctionArgs) {
  const user = await getUser(request);
  if (user) throw redirect(safeRedirect(new URL(request.url).searchParams.get("redirectTo")));
  return null;
}

// NUL or an unpaired surrogate cannot be looked up in Postgres: the form's error, not a 500.
const storableAs = (field: string) => (value: string, ctx: z.RefinementCtx) => {
  const problem = unstorableText(value);
  if (problem) ctx.addIssue({ code: "custom", message: `The ${field} ${problem}` });
};
const LoginForm = z.object({
  email: z
    .string()
    .trim()
    .min(1, "Enter your email address")
    .max(254, "The email address is longer than 254 characters")
    .superRefine(storableAs("email address")),
  password: z
    .string()
    .min(1, "Enter your password")
    .max(1024, "The password is longer than 1024 characters")
    .superRefine(storableAs("password")),
  redirectTo: z.string().max(2048, "redirectTo is longer than 2048 characters").optional(),
});

export async function action({ request, context }: ActionFunctionArgs) {
  assertSameOrigin(request);
  const parsed = LoginForm.safeParse(await readForm(request));
  if (!parsed.success) {
    return data({ error: parsed.error.issues[0].message }, { status: 422 });
  }
  const { email, password, redirectTo } = parsed.data;
  const result = await attemptLogin(email, password, clientAddressOf(context));
  if (!result.ok) {
    const headers = result.status === 429 ? { "Retry-After": String(result.retryAfterSeconds) } : undefined;
    return data({ error: result.error }, { status: result.status, headers });
  }
  return createUserSession(request, result.user.id, safeRedirect(redirectTo));
}

export default function LoginPage() {
  const actionData = useActionData<typeof action>();
  const [searchParams] = useSearchParams();
  const navigation = useNavigation();
  const submitting = navigation.state === "submitting";

  return (
    <main className="flex min-h-full items-center justify-center px-4 py-16">
      <div className="w-full max-w-sm">
        <div className="mb-8 text-center">
          <p className="text-2xl font-semibold tracking-tight text-slate-900">Hotpath</p>
          <p className="mt-1 text-sm text-slate-500">Task trigger service · admin</p>
        </div>
        <div className="rounded-xl border border-slate-200 bg-white p-8 shadow-sm">
          <h1 className="text-lg font-semibold text-slate-900">Sign in</h1>
          <Form method="post" className="mt-6 space-y-5">
            <input type="hidden" name="redirectTo" value={searchParams.get("redirectTo") ?? ""} />
            <div>
              <label htmlFor="email" className="block text-sm font-medium text-slate-700">
                Email
              </label>
              <input
                id="email"
                name="email"
                type="email"
                autoComplete="email"
                required
                autoFocus
                className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30"
              />
            </div>
            <div>
              <label htmlFor="password" className="block text-sm font-medium text-slate-700">
                Password
              </label>
              <input
                id="password"
                name="password"
                type="password"
                autoComplete="current-password"
                required
                className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30"
              />
            </div>
            {actionData?.error ? (
              <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-700">
                {actionData.error}
              </p>
            ) : null}
            <button
              type="submit"
              disabled={submitting}
              className="w-full rounded-md bg-indigo-600 px-3 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/50 disabled:opacity-60"
            >
              {submitting ? "Signing in…" : "Sign in"}
            </button>
          </Form>
        </div>
      </div>
    </main>
  );
}
