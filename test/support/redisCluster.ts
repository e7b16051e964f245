import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Cluster, Redis } from "ioredis";

/**
 * A real Redis Cluster for one test file: `masters` redis-server processes on free loopback ports
 * with `--cluster-enabled yes`, joined by `redis-cli --cluster create`, in a temporary folder that
 * `stop()` removes with the processes. Nothing is persisted (`--save ""`, no AOF).
 */

const run = promisify(execFile);

export interface RedisClusterHarness {
  nodes: { host: string; port: number }[];
  /** `host:port,…` as TASK_META_CACHE_REDIS_CLUSTER_NODES takes it. */
  nodeList: string;
  /** Milliseconds from the first redis-server to cluster_state:ok on every node. */
  startupMs: number;
  /** A cluster client for planting and inspecting keys (offline queue on, a few retries). */
  admin(): Cluster;
  /** One plain connection per master, for per-node commands (SCAN, CONFIG, keyspace events). */
  masterClients(): Redis[];
  stop(): Promise<void>;
}

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * A port P with P and P + 10000 (the cluster bus) free, below the ephemeral range so no client
 * socket takes it between this check and redis-server binding it.
 */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 16_000 + Math.floor(Math.random() * 6_000);
    if (taken.has(port)) continue;
    if ((await canBind(port)) && (await canBind(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error("no free port pair (P, P+10000) for a Redis Cluster node in 16000-22000");
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`Redis Cluster harness: ${what} not reached within ${timeoutMs} ms${last ? ` (${String(last)})` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function startRedisCluster(masters = 3): Promise<RedisClusterHarness> {
  const started = performance.now();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "hotpath-redis-cluster-"));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters; i++) ports.push(await clusterPort(taken));
  const plain: Redis[] = [];

  const stop = async () => {
    for (const client of plain) client.disconnect();
    await Promise.all(
      ports.map(async (port) => {
        const client = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        client.on("error", () => {});
        // SHUTDOWN closes the connection instead of replying.
        await client.connect().then(() => client.shutdown("NOSAVE")).catch(() => {});
        client.disconnect();
        // The daemon is not our child (and may linger as a zombie): a refused connection is the proof it is gone.
        await waitFor(`redis-server on port ${port} to stop`, async () => !(await accepts(port)), 5_000);
      }),
    );
    await fs.rm(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all(
      ports.map((port) =>
        run("redis-server", [
          "--port", String(port),
          "--bind", "127.0.0.1",
          "--cluster-enabled", "yes",
          "--cluster-config-file", path.join(dir, `nodes-${port}.conf`),
          "--cluster-node-timeout", "2000",
          "--save", "",
          "--appendonly", "no",
          "--daemonize", "yes",
          "--pidfile", path.join(dir, `redis-${port}.pid`),
          "--logfile", path.join(dir, `redis-${port}.log`),
          "--dir", dir,
        ]),
      ),
    );
    for (const port of ports) {
      const client = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0 });
      client.on("error", () => {});
      plain.push(client);
    }
    await Promise.all(plain.map((client) => waitFor("PING", async () => {
      if (client.status !== "ready") await client.connect().catch(() => undefined);
      return (await client.ping()) === "PONG";
    })));
    await run("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"]);
    await Promise.all(
      plain.map((client) =>
        waitFor("cluster_state:ok on every node", async () => {
          const info = await client.cluster("INFO");
          return info.includes("cluster_state:ok") && info.includes(`cluster_known_nodes:${masters}`) && info.includes("cluster_slots_ok:16384");
        }),
      ),
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const nodes = ports.map((port) => ({ host: "127.0.0.1", port }));
  const admins: Cluster[] = [];
  return {
    nodes,
    nodeList: nodes.map((n) => `${n.host}:${n.port}`).join(","),
    startupMs: Math.round(performance.now() - started),
    admin() {
      const client = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 2 } });
      admins.push(client);
      return client;
    },
    masterClients: () => plain,
    async stop() {
      for (const client of admins) client.disconnect();
      await stop();
    },
  };
}
