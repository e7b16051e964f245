import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { upsertUser } from "~/models/user.server";
import { startAppServer } from "../support/appServer";
import { remixRequest } from "../support/remixApp";

/**
 * Login, sessions and the admin guards, through Remix's request handler over the compiled build,
 * against this file's own database and Redis prefix.
 */

const ADMIN = { email: "admin@hotpath.test", password: "correct horse battery" };
const VIEWER = { email: "viewer@hotpath.test", password: "viewer password 1" };

const ADMIN_PAGES = ["/admin", "/admin/environments", "/admin/deployments", "/admin/runs"];
// Every admin route that exports an action (an index route's action needs `?index`). Add new ones
// here: a route without an action answers a POST with 405 before any code of ours runs.
const ADMIN_ACTIONS = ["/admin?index", "/admin/environments?index", "/admin/deployments"];

function postForm(path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return remixRequest(path, {
    method: "POST",
    body: new URLSearchParams(fields),
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
  });
}

function login(
  email: string,
  password: string,
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
  path = "/login",
) {
  return postForm(path, { email, password, ...extra }, headers);
}

/** The `name=value` part of a Set-Cookie header, to send back as a Cookie header. */
function cookieOf(response: Response): string {
  const setCookie = response.headers.get("set-cookie");
  if (!setCookie) throw new Error(`expected a Set-Cookie header (status ${response.status})`);
  return setCookie.split(";")[0];
}

async function signedIn(user: { email: string; password: string }): Promise<string> {
  const response = await login(user.email, user.password);
  expect(response.status).toBe(302);
  return cookieOf(response);
}

beforeAll(async () => {
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  await upsertUser({ ...VIEWER, role: "VIEWER" });
});

describe("admin pages require a session", () => {
  it("GET /admin without a session redirects to /login with redirectTo", async () => {
    const response = await remixRequest("/admin");
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/login?redirectTo=%2Fadmin");
  });

  it.each(ADMIN_PAGES)("GET %s without a session redirects to /login", async (path) => {
    const response = await remixRequest(`${path}?env=prod`);
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe(`/login?${new URLSearchParams({ redirectTo: `${path}?env=prod` })}`);
  });

  it.each(ADMIN_ACTIONS)("POST %s without a session redirects to /login (actions are guarded, not just the layout)", async (path) => {
    const response = await postForm(path, { intent: "anything" });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toMatch(/^\/login\?redirectTo=/);
  });

  it("a tampered session cookie counts as no session", async () => {
    const cookie = await signedIn(ADMIN);
    const [name, value] = cookie.split("=");
    const tampered = `${name}=${value.slice(0, -4)}AAAA`;
    const response = await remixRequest("/admin", { headers: { Cookie: tampered } });
    expect(response.status).toBe(302);
  });
});

describe("login", () => {
  it("the right password sets an HttpOnly, SameSite=Lax session cookie and redirects to /admin", async () => {
    const response = await login(ADMIN.email, ADMIN.password);
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/admin");
    const setCookie = response.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).toMatch(/Max-Age=\d+/);
    // Plain http (SESSION_COOKIE_SECURE=auto): a Secure cookie would never come back.
    expect(setCookie).not.toMatch(/Secure/i);

    const admin = await remixRequest("/admin", { headers: { Cookie: cookieOf(response) } });
    expect(admin.status).toBe(200);
    const html = await admin.text();
    expect(html).toContain(ADMIN.email);
    expect(html).toContain("ADMIN");
    for (const label of ["Overview", "Environments", "Deployments", "Runs", "Sign out"]) expect(html).toContain(label);
  });

  it("the email is matched case-insensitively", async () => {
    const response = await login(ADMIN.email.toUpperCase(), ADMIN.password);
    expect(response.status).toBe(302);
  });

  it("the cookie is Secure when the request came over https (x-forwarded-proto)", async () => {
    const response = await login(ADMIN.email, ADMIN.password, {}, { "X-Forwarded-Proto": "https" });
    expect(response.status).toBe(302);
    expect(response.headers.get("set-cookie")).toMatch(/; Secure/i);
  });

  it("a wrong password is a 422 saying 'Invalid email or password', with no cookie", async () => {
    const response = await login(ADMIN.email, "wrong password");
    expect(response.status).toBe(422);
    expect(response.headers.get("set-cookie")).toBeNull();
    expect(await response.text()).toContain("Invalid email or password");
  });

  it("an unknown email gets the same 422 as a wrong password", async () => {
    const response = await login("nobody@hotpath.test", "whatever password");
    expect(response.status).toBe(422);
    expect(await response.text()).toContain("Invalid email or password");
  });

  it("an empty form is a 422 naming the missing field", async () => {
    const response = await login("", "");
    expect(response.status).toBe(422);
    expect(await response.text()).toContain("Enter your email address");
  });

  it("redirects to a same-site redirectTo after login", async () => {
    const response = await login(ADMIN.email, ADMIN.password, { redirectTo: "/admin/runs?status=QUEUED" });
    expect(response.headers.get("location")).toBe("/admin/runs?status=QUEUED");
  });

  it.each(["https://evil.example", "//evil.example/admin", "/\\evil.example", "javascript:alert(1)"])(
    "an open-redirect attempt (redirectTo=%s) goes to /admin instead",
    async (redirectTo) => {
      const response = await login(ADMIN.email, ADMIN.password, { redirectTo });
      expect(response.status).toBe(302);
      expect(response.headers.get("location")).toBe("/admin");
    },
  );

  // Through Remix alone, its own CSRF check refuses a single-fetch submission from another origin
  // before any route code runs (a bare 500); the production server answers it 403 first (below).
  it("a client-side login submission (single fetch, /login.data) from another origin is refused and signs nobody in", async () => {
    const response = await login(ADMIN.email, ADMIN.password, {}, { Origin: "https://evil.example" }, "/login.data");
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.headers.get("set-cookie")).toBeNull();
  });

  it("a page POST to /login from another origin is refused with 403 by the production server", async () => {
    const server = await startAppServer();
    try {
      const response = await fetch(`${server.url}/login`, {
        method: "POST",
        body: new URLSearchParams({ email: ADMIN.email, password: ADMIN.password }),
        headers: { Origin: "https://evil.example" },
        redirect: "manual",
      });
      expect(response.status).toBe(403);
      expect(response.headers.get("set-cookie")).toBeNull();
      expect(await response.text()).toContain("Cross-origin form submission refused");

      // The same from the client side (single fetch posts to /login.data).
      const clientSide = await fetch(`${server.url}/login.data`, {
        method: "POST",
        body: new URLSearchParams({ email: ADMIN.email, password: ADMIN.password }),
        headers: { Origin: "https://evil.example" },
        redirect: "manual",
      });
      expect(clientSide.status).toBe(403);
      expect(clientSide.headers.get("set-cookie")).toBeNull();

      const sameSite = await fetch(`${server.url}/login`, {
        method: "POST",
        body: new URLSearchParams({ email: ADMIN.email, password: ADMIN.password }),
        headers: { Origin: server.url },
        redirect: "manual",
      });
      expect(sameSite.status).toBe(302);
      expect(sameSite.headers.get("set-cookie")).toMatch(/HttpOnly/i);
    } finally {
      await server.stop();
    }
  }, 90_000);

  it("a POST to /login from this site's own origin is accepted", async () => {
    const response = await login(ADMIN.email, ADMIN.password, {}, { Origin: "http://localhost", Host: "localhost" });
    expect(response.status).toBe(302);
  });

  it("a signed-in user visiting /login goes on to redirectTo", async () => {
    const cookie = await signedIn(ADMIN);
    const response = await remixRequest("/login?redirectTo=%2Fadmin%2Fdeployments", { headers: { Cookie: cookie } });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/admin/deployments");
  });

  it("the login page renders a form that carries redirectTo", async () => {
    const response = await remixRequest("/login?redirectTo=%2Fadmin%2Fruns");
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain("Hotpath");
    expect(html).toMatch(/name="redirectTo" value="\/admin\/runs"/);
    expect(html).toMatch(/type="password"/);
  });
});

describe("login rate limit", () => {
  it("after 5 failures for one email, the next attempt is a 429 even with the right password", async () => {
    const user = { email: "throttled@hotpath.test", password: "the right password" };
    await upsertUser({ ...user, role: "VIEWER" });
    for (let i = 0; i < 5; i++) {
      const response = await login(user.email, `wrong ${i}`);
      expect(response.status).toBe(422);
    }
    const refused = await login(user.email, user.password);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refused.text()).toContain("Too many failed sign-in attempts");
    expect(refused.headers.get("set-cookie")).toBeNull();

    // Other emails are unaffected.
    expect((await login(ADMIN.email, ADMIN.password)).status).toBe(302);
  });

  it("a successful login clears the failure count", async () => {
    const user = { email: "forgetful@hotpath.test", password: "the right password" };
    await upsertUser({ ...user, role: "VIEWER" });
    for (let i = 0; i < 4; i++) expect((await login(user.email, "wrong")).status).toBe(422);
    expect((await login(user.email, user.password)).status).toBe(302);
    for (let i = 0; i < 4; i++) expect((await login(user.email, "wrong")).status).toBe(422);
    expect((await login(user.email, user.password)).status).toBe(302);
  });
});

describe("logout", () => {
  it("POST /logout clears the cookie and /admin redirects to /login again", async () => {
    const cookie = await signedIn(ADMIN);
    const response = await postForm("/logout", {}, { Cookie: cookie });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/login");
    const cleared = response.headers.get("set-cookie")!;
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970|Max-Age=0/);

    const after = await remixRequest("/admin", { headers: { Cookie: cookieOf(response) } });
    expect(after.status).toBe(302);
    expect(after.headers.get("location")).toBe("/login?redirectTo=%2Fadmin");
  });

  it("GET /logout does not sign out", async () => {
    const cookie = await signedIn(ADMIN);
    const response = await remixRequest("/logout", { headers: { Cookie: cookie } });
    expect(response.headers.get("set-cookie")).toBeNull();
    expect((await remixRequest("/admin", { headers: { Cookie: cookie } })).status).toBe(200);
  });

  it("a POST /logout from another origin is refused with 403", async () => {
    const cookie = await signedIn(ADMIN);
    const response = await postForm("/logout", {}, { Cookie: cookie, Origin: "https://evil.example" });
    expect(response.status).toBe(403);
  });
});

describe("roles", () => {
  it("a VIEWER can view every admin page", async () => {
    const cookie = await signedIn(VIEWER);
    for (const path of ADMIN_PAGES) {
      const response = await remixRequest(path, { headers: { Cookie: cookie } });
      expect(response.status, path).toBe(200);
      const html = await response.text();
      expect(html).toContain(VIEWER.email);
      expect(html).toContain("VIEWER");
    }
  });

  it("a VIEWER's POST to an admin action is a 403 saying the ADMIN role is needed", async () => {
    const cookie = await signedIn(VIEWER);
    const response = await postForm("/admin/deployments", { intent: "promote" }, { Cookie: cookie });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("needs the ADMIN role");
  });

  it("an ADMIN's cross-origin POST to an admin action is refused", async () => {
    const cookie = await signedIn(ADMIN);
    for (const path of ["/admin/deployments", "/admin/deployments.data"]) {
      const response = await postForm(path, { intent: "promote" }, { Cookie: cookie, Origin: "https://evil.example" });
      // Refused by Remix's own check in-process (see above); authBoundaries.test.ts checks the production server's 403.
      expect(response.status, path).toBeGreaterThanOrEqual(403);
    }
  });

  it("a role change takes effect on the next request (the role is read from Postgres, not the cookie)", async () => {
    const user = { email: "demoted@hotpath.test", password: "demoted password" };
    await upsertUser({ ...user, role: "ADMIN" });
    const cookie = await signedIn(user);
    // Written directly (no session ended), so what is shown is the role being read per request;
    // setUserRole and the users page also end the user's sessions (sessions.test.ts).
    await prisma().user.update({ where: { email: user.email }, data: { role: "VIEWER" } });
    const response = await postForm("/admin/deployments", { intent: "promote" }, { Cookie: cookie });
    expect(response.status).toBe(403);
  });
});
