import { beforeAll, describe, expect, it } from "vitest";
import { upsertUser } from "~/models/user.server";
import { registerWorker } from "~/services/workers.server";
import { bearer, inProcess } from "../support/apiClient";
import { createTestProject, type TestProject } from "../support/fixtures";
import { remixRequest } from "../support/remixApp";

/**
 * Version skew in the admin (docs/api.md "Version skew"), through Remix over the compiled build:
 * the deployments page shows each version's external id and the runs waiting for an id no deploy
 * has registered, linking to the runs list filtered by that id.
 */

process.env.TASK_META_CACHE_COMMAND_TIMEOUT_MS = "2000";
process.env.RUN_LIFECYCLE_INTERVAL_MS = "0";

const ADMIN = { email: "admin@hotpath.test", password: "correct horse battery" };

let project: TestProject;
let cookie: string;

async function trigger(externalDeploymentId: string): Promise<string> {
  const result = await inProcess({ path: "/api/v1/tasks/email/trigger", headers: bearer(project.prod.apiKey), body: { options: { externalDeploymentId } } });
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return (result.body as { id: string }).id;
}

async function page(path: string): Promise<string> {
  const response = await remixRequest(path, { headers: { Cookie: cookie } });
  expect(response.status).toBe(200);
  // React separates adjacent text with empty comments.
  return (await response.text()).replaceAll("<!-- -->", "");
}

beforeAll(async () => {
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  const login = await remixRequest("/login", {
    method: "POST",
    body: new URLSearchParams(ADMIN),
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  cookie = login.headers.get("set-cookie")!.split(";")[0];
  project = await createTestProject();
  await registerWorker({ environmentId: project.prod.id, version: "v-pinned", tasks: [{ slug: "email", queue: { name: "q" } }], externalDeploymentId: "sha-deployed" });
});

describe("the deployments page", () => {
  it("shows each version's external id and the runs waiting for an id that has not arrived", async () => {
    await trigger("sha-deployed");
    const waiting = [await trigger("sha-waiting"), await trigger("sha-waiting")];
    const html = await page(`/admin/deployments?env=${project.prod.id}`);
    expect(html).toContain('data-external-id="sha-deployed"');
    expect(html).toContain('data-awaiting-id="sha-waiting"');
    expect(html).not.toContain('data-awaiting-id="sha-deployed"');
    expect(html).toMatch(/data-awaiting-id="sha-waiting".*?>2 runs</s);

    const runs = await page(`/admin/runs?env=${project.prod.id}&externalDeploymentId=sha-waiting`);
    for (const id of waiting) expect(runs).toContain(id);
    expect(runs.match(/run_[0-9a-z]{24}/g)!.filter((id) => !waiting.includes(id))).toEqual([]);
  });
});
