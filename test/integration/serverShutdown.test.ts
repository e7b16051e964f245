import type { ChildProcess } from "node:child_process";
import { Agent, get } from "node:http";
import { describe, expect, it } from "vitest";
import { bearer, overHttp } from "../support/apiClient";
import { startAppServer } from "../support/appServer";
import { createTestProject, registerAndPromote } from "../support/fixtures";

/**
 * The production server (server.ts over the build) on SIGTERM: app/lifecycle.server.ts closes
 * what it opened and the process then exits with 0 on its own, because nothing keeps Node's event
 * loop alive — server.ts never calls process.exit on that path, so a leaked socket or timer shows
 * up here as the 10 s fallback's exit code 1 and its list of what was still open.
 */

function exitOf(child: ChildProcess) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null) resolve({ code: child.exitCode, signal: null });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

/** A request on a keep-alive agent: the server is left holding an idle connection. */
function keepAliveGet(url: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    get(`${url}/healthz`, { agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    }).on("error", reject);
  });
}

describe("SIGTERM", () => {
  it("after triggers, the sweep and an idle keep-alive connection, exits promptly with code 0", async () => {
    const project = await createTestProject();
    const worker = await registerAndPromote({ environmentId: project.prod.id, tasks: 1 });
    const server = await startAppServer({ TASK_META_CACHE_RECONCILE_INTERVAL_MS: "60000" });
    const agent = new Agent({ keepAlive: true });
    try {
      for (let i = 0; i < 3; i++) {
        const result = await overHttp(server.url, {
          path: `/api/v1/tasks/${worker.tasks[0].slug}/trigger`,
          headers: bearer(project.prod.apiKey),
          body: { payload: { i } },
        });
        expect(result.status).toBe(200);
      }
      expect(await keepAliveGet(server.url, agent)).toBe(200);

      const exited = exitOf(server.process);
      const signalled = Date.now();
      server.process.kill("SIGTERM");
      const { code } = await exited;
      expect(code, server.output()).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(5_000);
      expect(server.output()).not.toContain("Shutdown incomplete");
    } finally {
      agent.destroy();
      await server.stop();
    }
  }, 90_000);
});
