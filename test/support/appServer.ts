import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";

/**
 * Starts the production server (server.ts over the compiled build) as a child process with this
 * test file's environment (its own database and Redis prefix), on a free port. Run
 * `remix build` first (npm test does).
 */
export interface AppServer {
  url: string;
  port: number;
  process: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startAppServer(extraEnv: Record<string, string> = {}): Promise<AppServer> {
  const root = path.resolve(import.meta.dirname, "../..");
  const port = await freePort();
  let log = "";
  const child = spawn(path.join(root, "node_modules/.bin/tsx"), ["server.ts"], {
    cwd: root,
    // The current-hash sweep is off unless a test turns it on: tests plant stale hashes on purpose.
    // One process unless a test asks for more (WEB_CONCURRENCY defaults to every core in production).
    env: { ...process.env, NODE_ENV: "production", PORT: String(port), TASK_META_CACHE_RECONCILE_INTERVAL_MS: "0", WEB_CONCURRENCY: "1", ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  // Generous: on a loaded 2-core machine, tsx plus loading the build has taken 15–20 s.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${log}`);
    try {
      await fetch(`${url}/healthz`);
      break;
    } catch {
      if (Date.now() > deadline) {
        // Don't leave it running: the caller never gets a handle to stop it. SIGTERM, which tsx
        // relays to the node process it started (a SIGKILL would orphan that one).
        child.kill("SIGTERM");
        throw new Error(`server did not start within 60 s:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    port,
    process: child,
    output: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        // Already gone (an exit code, or killed by a signal): no "exit" event will come again.
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
      }),
  };
}
