import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { upsertUser } from "~/models/user.server";
import { createTestProject, type TestProject } from "../support/fixtures";
import { remixRequest } from "../support/remixApp";

/**
 * Issue 12, finding 4: a session ends on the server. Sign-out kills that cookie (also for ADMIN
 * actions), "sign out everywhere" from the users page kills all of a user's cookies, and a role or
 * password change ends that user's other sessions (docs/decisions/0030-server-side-sessions.md).
 */

const ADMIN = { email: "sessions-admin@hotpath.test", password: "sessions admin password" };
const VIEWER = { email: "sessions-viewer@hotpath.test", password: "sessions viewer password" };
let project: TestProject;

beforeAll(async () => {
  project = await createTestProject();
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  await upsertUser({ ...VIEWER, role: "VIEWER" });
});

const form = (fields: Record<string, string>) => ({
  method: "POST",
  body: new URLSearchParams(fields),
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
});

async function signIn(user: { email: string; password: string }): Promise<string> {
  const response = await remixRequest("/login", form(user));
  expect(response.status).toBe(302);
  return response.headers.get("set-cookie")!.split(";")[0];
}

/** 200 while the cookie's session lives; a redirect to /login once it has ended. */
async function signedIn(cookie: string): Promise<boolean> {
  const response = await remixRequest("/admin/environments", { headers: { Cookie: cookie } });
  if (response.status === 200) return true;
  expect(response.status).toBe(302);
  expect(response.headers.get("location")).toMatch(/^\/login/);
  return false;
}

const userId = async (email: string) => (await prisma().user.findUniqueOrThrow({ where: { email }, select: { id: true } })).id;

const usersAction = (cookie: string, fields: Record<string, string>) =>
  remixRequest("/admin/users", { ...form(fields), headers: { ...form(fields).headers, Cookie: cookie } });

describe("sessions end on the server", () => {
  it("after POST /logout the same cookie is signed out, and an ADMIN action with it is refused and changes nothing", async () => {
    const cookie = await signIn(ADMIN);
    expect(await signedIn(cookie)).toBe(true);
    const logout = await remixRequest("/logout", { method: "POST", headers: { Cookie: cookie } });
    expect(logout.status).toBe(302);
    expect(await signedIn(cookie)).toBe(false);

    const audits = await prisma().auditEvent.count();
    const action = await remixRequest("/admin/environments/" + project.prod.id + "/cache", {
      ...form({ intent: "invalidate", confirmTarget: "anything" }),
      headers: { ...form({}).headers, Cookie: cookie },
    });
    expect(action.status).toBe(302);
    expect(action.headers.get("location")).toMatch(/^\/login\?redirectTo=/);
    expect(await prisma().auditEvent.count()).toBe(audits);
  });

  it("sign out everywhere (users page, ADMIN) ends every session of that user, and is audited", async () => {
    const admin = await signIn(ADMIN);
    const [laptop, phone] = [await signIn(VIEWER), await signIn(VIEWER)];
    expect(await signedIn(laptop)).toBe(true);
    const response = await usersAction(admin, { intent: "sign-out-everywhere", userId: await userId(VIEWER.email) });
    expect(response.status).toBe(302);
    expect(await signedIn(laptop)).toBe(false);
    expect(await signedIn(phone)).toBe(false);
    expect(await signedIn(admin)).toBe(true);
    const audit = await prisma().auditEvent.findFirstOrThrow({ where: { action: "user.sign-out-everywhere" }, orderBy: { createdAt: "desc" } });
    expect(audit.details).toMatchObject({ email: VIEWER.email, sessionsEnded: 2 });
  });

  it("a VIEWER cannot sign anyone out everywhere (403)", async () => {
    const viewer = await signIn(VIEWER);
    const admin = await signIn(ADMIN);
    const refused = await usersAction(viewer, { intent: "sign-out-everywhere", userId: await userId(ADMIN.email) });
    expect(refused.status).toBe(403);
    expect(await signedIn(admin)).toBe(true);
  });

  it("a role change ends that user's sessions; an admin changing their own role keeps the session they act from", async () => {
    const admin = await signIn(ADMIN);
    const viewer = await signIn(VIEWER);
    const viewerId = await userId(VIEWER.email);
    expect((await usersAction(admin, { intent: "role", userId: viewerId, role: "ADMIN" })).status).toBe(302);
    expect(await signedIn(viewer)).toBe(false);
    expect((await usersAction(admin, { intent: "role", userId: viewerId, role: "VIEWER" })).status).toBe(302);

    const otherAdminTab = await signIn(ADMIN);
    const second = await signIn(VIEWER);
    await prisma().user.update({ where: { id: viewerId }, data: { role: "ADMIN" } });
    // The second admin (promoted directly above) demotes themselves: their other tab ends, this one stays.
    const acting = await signIn(VIEWER);
    expect(await signedIn(second)).toBe(true);
    expect((await usersAction(acting, { intent: "role", userId: viewerId, role: "VIEWER" })).status).toBe(302);
    expect(await signedIn(acting)).toBe(true);
    expect(await signedIn(second)).toBe(false);
    expect(await signedIn(otherAdminTab)).toBe(true);
  });

  it("a password change (upsertUser, as the seed does) ends every session of that user", async () => {
    const viewer = await signIn(VIEWER);
    expect(await signedIn(viewer)).toBe(true);
    await upsertUser({ ...VIEWER, role: "VIEWER" });
    expect(await signedIn(viewer)).toBe(false);
  });
});
