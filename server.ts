import cluster from "node:cluster";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequestHandler, type ServerBuild, writeReadableStreamToWritable } from "@remix-run/node";
import express from "express";
import type * as AppEntry from "./app/entry.server";

/**
 * The production server (`npm start`, `npm run quickstart`): Remix through express for pages and
 * assets. The build is loaded once; its server entry (app/entry.server.tsx) is the same module
 * graph the routes use, so anything the server needs from the app comes from `build.entry.module`.
 */
const root = path.dirname(fileURLToPath(import.meta.url));
const build = (await import(pathToFileURL(path.join(root, "build/index.js")).href)) as ServerBuild;

/** The exports of app/entry.server.tsx this file uses, typed from the module itself. */
const ENTRY_EXPORTS = [
  "handleApiRequest",
  "start",
  "shutdown",
  "limitPageBodies",
  "bufferedPageBody",
  "refuseUnstorablePageInput",
  "requestLineProblem",
  "webConcurrency",
  "runClusterPrimary",
] as const;
type ServerEntry = Pick<typeof AppEntry, (typeof ENTRY_EXPORTS)[number] | "logger">;

function isServerEntry(module: ServerBuild["entry"]["module"]): module is ServerBuild["entry"]["module"] & ServerEntry {
  return ENTRY_EXPORTS.every((name) => typeof Reflect.get(module, name) === "function") && typeof Reflect.get(module, "logger") === "object";
}
if (!isServerEntry(build.entry.module)) {
  throw new Error(`build/index.js does not export ${ENTRY_EXPORTS.join(", ")} and logger from app/entry.server.tsx; run \`npx remix build\``);
}
const { handleApiRequest, start, shutdown, limitPageBodies, bufferedPageBody, refuseUnstorablePageInput, requestLineProblem, logger } =
  build.entry.module;

// WEB_CONCURRENCY > 1: this process only forks that many workers running this file, which share
// the port (app/services/webCluster.server.ts); it never gets past this line.
if (cluster.isPrimary && build.entry.module.webConcurrency() > 1) await build.entry.module.runClusterPrimary(build.entry.module.webConcurrency());

const app = express();
app.disable("x-powered-by");
app.use("/build", express.static(path.join(root, "public/build"), { immutable: true, maxAge: "1y" }));
app.use(express.static(path.join(root, "public"), { maxAge: "1h" }));

/** "::ffff:127.0.0.1" (an IPv4 client of a dual-stack socket) → "127.0.0.1". */
function plainAddress(address: string | undefined): string | undefined {
  return address?.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
}

/**
 * Remix through express, fed the body limitPageBodies already read (the request stream is spent).
 * The client's address for the login throttle: the connection's, or with TRUST_PROXY_HOPS the one
 * that many proxies put in X-Forwarded-For.
 */
function remixHandler(): express.RequestHandler {
  const handle = createRequestHandler(build, "production");
  return async (req, res, next) => {
    try {
      const response = await handle(toWebRequest(req, res), { clientAddress: plainAddress(req.ip) });
      res.statusMessage = response.statusText;
      res.status(response.status);
      for (const [key, value] of response.headers.entries()) res.append(key, value);
      if (response.body) await writeReadableStreamToWritable(response.body, res);
      else res.end();
    } catch (error) {
      next(error);
    }
  };
}

/** As @remix-run/express builds it (host and protocol through "trust proxy"), with the buffered body. */
function toWebRequest(req: express.Request, res: express.Response): Request {
  const portOf = (host: string | undefined) => Number.parseInt(host?.split(":")[1] ?? "", 10);
  const forwardedPort = portOf(req.get("x-forwarded-host"));
  const hostPort = portOf(req.get("host"));
  const port = Number.isSafeInteger(forwardedPort) ? forwardedPort : Number.isSafeInteger(hostPort) ? hostPort : "";
  const url = new URL(`${req.protocol}://${req.hostname}${port ? `:${port}` : ""}${req.originalUrl}`);
  const headers = new Headers();
  for (const [key, values] of Object.entries(req.headers)) {
    for (const value of Array.isArray(values) ? values : values ? [values] : []) headers.append(key, value);
  }
  // Loaders and actions stop once nobody can read their response any more.
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  const body = bufferedPageBody(req);
  return new Request(url.href, { method: req.method, headers, signal: controller.signal, body: body && new Uint8Array(body) });
}

/**
 * Remix refuses a page POST whose Origin host differs from Host with a bare 500 (its own CSRF
 * check, before any route code runs). Answer it as what it is: a 403 with a reason. Same host
 * comparison as Remix and as assertSameOrigin (app/services/session.server.ts); /api/* is
 * token-authenticated and never reaches that check.
 */
function refuseCrossOriginForms(req: express.Request, res: express.Response, next: express.NextFunction) {
  const origin = req.get("origin");
  if (origin === undefined || ["GET", "HEAD", "OPTIONS"].includes(req.method) || req.path.startsWith("/api/")) {
    return next();
  }
  const host = req.get("x-forwarded-host")?.split(",")[0]?.trim() || req.get("host");
  let originHost: string | null = null;
  try {
    originHost = new URL(origin).host || null;
  } catch {
    // "null" or unparsable: not this site.
  }
  if (originHost !== null && originHost === host) return next();
  res.status(403).type("text/plain").send(`Cross-origin form submission refused: ${origin} is not this site.`);
}

/**
 * The lean lane (docs/architecture.md; docs/decisions/0017-two-lanes-for-the-api.md): /api/* goes from
 * Node's request straight to the framework-free handlers; it returns false for everything else,
 * which goes to express and Remix. Taken from the build's entry so both lanes share one instance
 * of the app's modules (pools, caches, counters).
 */
// Parse the whole configuration before serving (a bad variable stops the process here, naming
// it); the hot path's Redis connection is open before the first trigger (or given up on after 2 s:
// the cache then fails open to Postgres until Redis answers); the background work starts.
const { port, trustProxyHops, pageBodyLimitBytes } = await start();
app.set("trust proxy", trustProxyHops);
// Pages (login, logout, admin actions): a body over the limit is a 413 before Remix, any route
// code, the login throttle or auth (app/services/pageBody.server.ts).
app.use(limitPageBodies(pageBodyLimitBytes));
app.use(refuseUnstorablePageInput);
app.use(refuseCrossOriginForms);
app.all("*", remixHandler());
// Last resort: a bug, logged once with its stack; the client gets no details.
app.use((error: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
  logger.error("page request failed", { method: req.method, url: req.originalUrl, error });
  if (res.headersSent) return void res.destroy();
  res.status(500).type("text/plain").send("Internal server error");
});

const server = createServer((req, res) => {
  if (refuseOddRequestLine(req, res)) return;
  if (!handleApiRequest(req, res)) app(req, res);
});

/** 400 for a request line no route can serve (app/domain/requestLine.ts); no details in the answer. */
function refuseOddRequestLine(req: IncomingMessage, res: ServerResponse): boolean {
  const forwardedHost = req.headers["x-forwarded-host"];
  const first = (Array.isArray(forwardedHost) ? forwardedHost[0] : forwardedHost)?.split(",")[0]?.trim();
  const problem = requestLineProblem(req.url, req.headers.host, first);
  if (problem === null) return false;
  logger.info("odd request line refused", { method: req.method, problem });
  res.writeHead(400, { "content-type": "text/plain; charset=utf-8", "content-length": 11, connection: "close" });
  res.end(req.method === "HEAD" ? undefined : "Bad Request");
  return true;
}
server.listen(port, () => {
  console.log(cluster.isWorker ? `Hotpath worker ${process.pid} listening on http://localhost:${port}` : `Hotpath listening on http://localhost:${port}`);
});

/**
 * Stops as docs/operations.md ("Stop an instance") describes: shutdown() closes everything the process opened, after
 * which nothing keeps Node's event loop alive and the process exits with 0 by itself. If something
 * still does after 10 s (a request that never ends, a leak), it exits with 1 and names what is open.
 */
// `on`, not `once`: a cluster worker gets Ctrl-C's SIGINT from the terminal and again from its
// primary, and a second signal must not kill it mid-drain.
let stopRequested = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopRequested) return;
    stopRequested = true;
    setTimeout(() => {
      console.error(`Shutdown incomplete after 10 s; still open: ${process.getActiveResourcesInfo().join(", ")}`);
      process.exit(1);
    }, 10_000).unref();
    // A cluster worker's IPC channel to its primary would keep it alive: closed once all else is.
    void shutdown({ server }).then(() => cluster.worker?.disconnect());
  });
}
