import { createCookieSessionStorage, redirect, type SessionStorage } from "@remix-run/node";
import { isDatabaseUnavailable } from "~/domain/databaseOutage";
import { getEnv } from "~/env.server";
import { httpError } from "~/httpError.server";
import type { SessionUser } from "~/models/user.server";
import { endSession, openSession, SESSION_TTL_SECONDS, sessionUser } from "~/models/userSession.server";
import { logger } from "~/services/logger.server";

/**
 * The admin webapp's login session and the guards every admin route calls. The signed cookie holds
 * only a random session token; the session and its user (and so the current role) are read from
 * Postgres on each request in one lookup (models/userSession.server.ts), so sign-out, "sign out
 * everywhere", a role or password change and a user's deletion end sessions at once.
 *
 * Guard both the loader AND the action of every admin route: a layout's loader does not run for a
 * child route's action in Remix.
 *
 *   export async function loader({ request }) { const user = await requireUser(request); … }
 *   export async function action({ request }) { const user = await requireAdminAction(request); … }
 */

// The session's row expires with the cookie: Max-Age is only a request to the browser.
const SESSION_MAX_AGE_SECONDS = SESSION_TTL_SECONDS;
const TOKEN_KEY = "sessionToken";

let storage: SessionStorage | undefined;

function sessionStorage(): SessionStorage {
  storage ??= createCookieSessionStorage({
    cookie: {
      name: "__hotpath_session",
      httpOnly: true,
      sameSite: "lax",
      path: "/",
      maxAge: SESSION_MAX_AGE_SECONDS,
      secrets: [getEnv().SESSION_SECRET],
      // `secure` depends on the request (SESSION_COOKIE_SECURE=auto); it is set on each commit.
    },
  });
  return storage;
}

/** Whether this request reached us over https, directly or through a proxy that says so. */
function isHttps(request: Request): boolean {
  const forwarded = request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  return forwarded ? forwarded === "https" : new URL(request.url).protocol === "https:";
}

function cookieSecure(request: Request): boolean {
  const setting = getEnv().SESSION_COOKIE_SECURE;
  return setting === "auto" ? isHttps(request) : setting === "true";
}

function getSession(request: Request) {
  return sessionStorage().getSession(request.headers.get("Cookie"));
}

/** The session token of this request's cookie, or undefined (no cookie, or a tampered one). */
export async function sessionToken(request: Request): Promise<string | undefined> {
  const token = (await getSession(request)).get(TOKEN_KEY);
  return typeof token === "string" ? token : undefined;
}

/**
 * The signed-in user, or null (no cookie, a tampered cookie, or a session that ended or expired).
 * Every admin loader calls this before reading its page data, so a Postgres outage surfaces here
 * first: it is thrown as a 503 that the error page explains, like presenters/pageData.server.ts
 * does for the pages' own reads, instead of a bare 500.
 */
export async function getUser(request: Request): Promise<SessionUser | null> {
  const token = await sessionToken(request);
  if (token === undefined) return null;
  return withSessionStore("checked", "this page cannot be shown", () => sessionUser(token));
}

/** A session read or write; a Postgres outage is a 503 that says what could not be done, logged once. */
async function withSessionStore<T>(verb: string, consequence: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    logger.error(`session could not be ${verb}: postgres unreachable`, { error });
    throw httpError(
      503,
      `Postgres is unreachable, so your session cannot be ${verb} and ${consequence}. GET /healthz says which dependency is down; try again once it is back.`,
    );
  }
}

function loginRedirect(request: Request): Response {
  const url = new URL(request.url);
  const redirectTo = `${url.pathname}${url.search}`;
  return redirect(`/login?${new URLSearchParams({ redirectTo })}`);
}

/** The signed-in user; without one, throws a redirect to /login that comes back here afterwards. */
export async function requireUser(request: Request): Promise<SessionUser> {
  const user = await getUser(request);
  if (!user) throw loginRedirect(request);
  return user;
}

/** The user if they have the ADMIN role; a VIEWER gets a 403 that says why. */
function assertAdmin(user: SessionUser): SessionUser {
  if (user.role !== "ADMIN") {
    throw httpError(403, `This action needs the ADMIN role; ${user.email} is signed in as ${user.role}.`);
  }
  return user;
}

/** The host the browser addressed: the proxy's `x-forwarded-host`, else `Host`, else the URL's. */
function requestHost(request: Request): string {
  const forwarded = request.headers.get("x-forwarded-host")?.split(",")[0]?.trim();
  return forwarded || request.headers.get("host") || new URL(request.url).host;
}

function originHost(origin: string): string | null {
  try {
    return new URL(origin).host || null;
  } catch {
    return null; // "null" (sandboxed or privacy-stripped origins) and anything unparsable
  }
}

/**
 * CSRF guard for state-changing requests: refuses (403) a request whose `Origin` header is present
 * and names another host. Browsers send `Origin` on every cross-site POST; together with the
 * SameSite=Lax cookie this keeps other sites from submitting forms as (or logging in) a user.
 * It compares hosts like Remix's own check on document POSTs (a TLS-terminating proxy changes the
 * scheme, not the host), and also covers what Remix does not check: client-side submissions
 * (`?_data=` requests) and fetchers.
 */
export function assertSameOrigin(request: Request): void {
  if (request.method === "GET" || request.method === "HEAD") return;
  const origin = request.headers.get("origin");
  if (origin === null) return;
  if (originHost(origin) !== requestHost(request)) {
    throw httpError(403, `Cross-origin form submission refused: ${origin} is not this site.`);
  }
}

/**
 * The guard for admin actions (POSTs that change state): a session (else a redirect to /login),
 * a same-origin request, and the ADMIN role.
 */
export async function requireAdminAction(request: Request): Promise<SessionUser> {
  const user = await requireUser(request);
  assertSameOrigin(request);
  return assertAdmin(user);
}

/** Signs the user in: a fresh session cookie, then a redirect (to a path on this site). */
export async function createUserSession(request: Request, userId: string, redirectTo: string): Promise<Response> {
  const session = await sessionStorage().getSession();
  session.set(TOKEN_KEY, await openSession(userId));
  return redirect(redirectTo, {
    headers: { "Set-Cookie": await sessionStorage().commitSession(session, { secure: cookieSecure(request) }) },
  });
}

/** Signs the user out: the session ends on the server, the cookie is expired, the browser goes to /login. */
export async function logout(request: Request): Promise<Response> {
  const session = await getSession(request);
  const token = session.get(TOKEN_KEY);
  if (typeof token === "string") await withSessionStore("ended", "you are still signed in", () => endSession(token));
  return redirect("/login", {
    headers: { "Set-Cookie": await sessionStorage().destroySession(session, { secure: cookieSecure(request) }) },
  });
}
