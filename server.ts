import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
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
type ServerEntry = Pick<typeof AppEntry, "handleApiRequest" | "start" | "shutdown">;

function isServerEntry(module: ServerBuild["entry"]["module"]): module is ServerBuild["entry"]["module"] & ServerEntry {
  return ["handleApiRequest", "start", "shutdown"].every((name) => typeof Reflect.get(module, name) === "function");
}
if (!isServerEntry(build.entry.module)) {
  throw new Error("build/index.js does not export handleApiRequest, start and shutdown from app/entry.server.tsx; run `npx remix build`");
}
const { handleApiRequest, start, shutdown } = build.entry.module;

const app = express();
app.disable("x-powered-by");
app.use("/build", express.static(path.join(root, "public/build"), { immutable: true, maxAge: "1y" }));
app.use(express.static(path.join(root, "public"), { maxAge: "1h" }));
app.use(refuseCrossOriginForms);
// The client's address for the login throttle: the connection's, or with TRUST_PROXY_HOPS (set
// below, once the configuration is parsed) the one that many proxies put in X-Forwarded-For.
app.all("*", createRequestHandler({ build, mode: "production", getLoadContext: (req) => ({ clientAddress: plainAddress(req.ip) }) }));

/** "::ffff:127.0.0.1" (an IPv4 client of a dual-stack socket) → "127.0.0.1". */
function plainAddress(address: string | undefined): string | undefined {
  return address?.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
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

// Parse the whole configuration before serving (a bad variable stops the process here, naming
// it); the hot path's Redis connection is open before the first trigger (or given up on after 2 s:
// the cache then fails open to Postgres until Redis answers); the current-hash sweep starts.
const { port, trustProxyHops } = await start();
app.set("trust proxy", trustProxyHops);

/**
 * The lean lane (SPEC §5 "Serving the API"; docs/decisions/0017-two-lanes-for-the-api.md): /api/* goes from
 * Node's request straight to the framework-free handlers; it returns false for everything else,
 * which goes to express and Remix. Taken from the build's entry so both lanes share one instance
 * of the app's modules (pools, caches, counters).
 */
const server = createServer((req, res) => {
  if (!handleApiRequest(req, res)) app(req, res);
});
server.listen(port, () => {
  console.log(`Hotpath listening on http://localhost:${port}`);
});

/**
 * Stops as docs/operations.md ("Stop an instance") describes: shutdown() closes everything the process opened, after
 * which nothing keeps Node's event loop alive and the process exits with 0 by itself. If something
 * still does after 10 s (a request that never ends, a leak), it exits with 1 and names what is open.
 */
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    setTimeout(() => {
      console.error(`Shutdown incomplete after 10 s; still open: ${process.getActiveResourcesInfo().join(", ")}`);
      process.exit(1);
    }, 10_000).unref();
    void shutdown({ server });
  });
}
