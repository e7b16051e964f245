import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "./appServer";

/**
 * A redis-server of the test's own, on its own port and data folder, that the test may kill,
 * freeze and restart without touching the shared Redis other files use. No persistence
 * (`--save ""`, no AOF): a restart comes back empty, like a cache node replaced after a crash.
 */
export interface PrivateRedis {
  port: number;
  url: string;
  /** The running server process (a new one after each {@link PrivateRedis.restart}). */
  process: () => ChildProcess;
  /** SIGKILL, and wait until the process is gone (its port is closed). */
  kill: () => Promise<void>;
  /** Starts a new server on the same port; resolves once it answers PING. */
  restart: () => Promise<void>;
  /** SIGSTOP / SIGCONT: the server keeps its connections open and answers nothing. */
  freeze: () => void;
  thaw: () => void;
  /** Kills the server and removes its folder. */
  stop: () => Promise<void>;
}

async function redisServerBinary(): Promise<string> {
  // The bootstrap's own lookup (PATH, then the Debian locations), so tests and `npm test` agree.
  const { findRedisServer } = await import("../../scripts/services.mjs");
  const binary: string | undefined = findRedisServer();
  if (!binary) throw new Error("redis-server is not installed: the Redis fault tests start one of their own (apt-get install redis-server)");
  return binary;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const binary = await redisServerBinary();
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "hotpath-redis-"));
  let child: ChildProcess;
  let log = "";

  const launch = async () => {
    child = spawn(
      binary,
      ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout!.on("data", (d) => (log += d));
    child.stderr!.on("data", (d) => (log += d));
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${log}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port} within 10 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const kill = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGCONT"); // a frozen process must be able to die
      child.kill("SIGKILL");
    });

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: () => child,
    kill,
    restart: launch,
    freeze: () => child.kill("SIGSTOP"),
    thaw: () => child.kill("SIGCONT"),
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
