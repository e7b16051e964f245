/**
 * The floor of `npm run bench:http`: a bare node:http server that does what the trigger route
 * cannot avoid and nothing else — read the JSON body, write ONE run row, answer `{ id, isCached }`.
 * No authentication, no validation, no queue resolution, no framework.
 *
 * The row is written by the app's own `createRun` (the same prepared INSERT through the same `pg`
 * pool settings as the route), so the gap between this server and the route is everything the
 * route does besides that INSERT.
 *
 *   node --import tsx scripts/bench/floorServer.ts --port 4100 --environment <environment id>
 *
 * Configuration (DATABASE_URL, pool size) comes from the environment as for the app. GET /healthz
 * answers 200 once Postgres does; GET /stats gives the statements sent so far (as the app's
 * /metrics does in `hotpath_postgres_statements_total`).
 */
import { createServer, type IncomingMessage } from "node:http";
import { parseArgs } from "node:util";
import { dbQueryCount, disconnectDb, pgPool } from "~/db.server";
import { createRun } from "~/services/runs.server";

const { values } = parseArgs({ options: { port: { type: "string" }, environment: { type: "string" } } });
const port = Number(values.port);
const environmentId = values.environment;
if (!Number.isInteger(port) || port < 1 || !environmentId) {
  console.error("usage: floorServer.ts --port <port> --environment <environment id>");
  process.exit(2);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const TTL_SECONDS = 300;

const server = createServer(async (req, res) => {
  try {
    if (req.method === "GET" && req.url === "/healthz") {
      await pgPool().query("SELECT 1");
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    if (req.method === "GET" && req.url === "/stats") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ statements: dbQueryCount() }));
      return;
    }
    const body = JSON.parse((await readBody(req)) || "{}") as { payload?: unknown };
    const now = new Date();
    const run = await createRun({
      environmentId,
      taskIdentifier: "bench-task-07",
      payload: body.payload,
      metadata: undefined,
      queue: "bench-queue",
      lockedQueueId: null,
      lockedToVersionId: null,
      ttl: "5m",
      expiresAt: new Date(now.getTime() + TTL_SECONDS * 1000),
      taskKind: "SCHEDULED",
      tags: [],
      delayUntil: null,
      status: "QUEUED",
      idempotencyKey: null,
      createdAt: now,
    });
    const json = JSON.stringify({ id: run.id, isCached: run.isCached });
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(json) }).end(json);
  } catch (error) {
    const json = JSON.stringify({ error: error instanceof Error ? error.message : String(error) });
    if (!res.headersSent) res.writeHead(500, { "content-type": "application/json; charset=utf-8" });
    res.end(json);
  }
});

server.listen(port, "127.0.0.1", () => console.log(`floor server listening on http://127.0.0.1:${port}`));

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    void disconnectDb().finally(() => process.exit(0));
  });
}
