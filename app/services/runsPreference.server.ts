import { createCookie } from "@remix-run/node";

/**
 * The environment last chosen on the runs list, so /admin/runs opens there again (per browser).
 * Not a secret: an environment id, checked against the environments that exist before use.
 */
const runsEnvironmentCookie = createCookie("hotpath_runs_env", {
  path: "/admin",
  httpOnly: true,
  sameSite: "lax",
  maxAge: 60 * 60 * 24 * 365,
});

export async function rememberedRunsEnvironment(request: Request): Promise<string | null> {
  const value: unknown = await runsEnvironmentCookie.parse(request.headers.get("Cookie"));
  return typeof value === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(value) ? value : null;
}

/** The Set-Cookie header that remembers `environmentId`, or nothing when it is already remembered. */
export async function rememberRunsEnvironment(request: Request, environmentId: string): Promise<HeadersInit> {
  if ((await rememberedRunsEnvironment(request)) === environmentId) return {};
  return { "Set-Cookie": await runsEnvironmentCookie.serialize(environmentId) };
}
