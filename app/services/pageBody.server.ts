import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyCollector, checkDeclaredLength } from "~/api/http";
import { PayloadTooLargeError } from "~/domain/errors";
import { pageInputProblem } from "~/domain/pageInput";
import { logger } from "~/services/logger.server";

/**
 * The body guard of every page route (login, logout, admin actions): the production server runs
 * it before Remix, so no route code, throttle or auth check ever sees a body over the limit.
 * A declared Content-Length over the limit is refused unread; a chunked body is counted while it
 * streams and refused as soon as it passes the limit. What fits is buffered (it is small) and
 * handed to Remix by {@link bufferedPageBody}.
 */

const BODY = Symbol("hotpath.pageBody");
type WithBody = IncomingMessage & { [BODY]?: Buffer };

/** Methods whose body Remix reads; a GET or HEAD body is never read (Node discards it). */
const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function refuse(req: IncomingMessage, res: ServerResponse, limitBytes: number) {
  if (res.headersSent || res.destroyed) return;
  const message = new PayloadTooLargeError(limitBytes).message;
  // The rest of the body is never read: close the connection after answering, and drain what is
  // already on its way (discarded, not buffered) so the client sees the 413 rather than a reset.
  res.once("finish", () => req.resume());
  res.writeHead(413, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(message),
    connection: "close",
  });
  res.end(message);
}

/** Express-compatible middleware: `app.use(limitPageBodies(limit))` before the Remix handler. */
export function limitPageBodies(limitBytes: number) {
  return (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => {
    try {
      checkDeclaredLength(req.headers["content-length"], limitBytes);
    } catch {
      return refuse(req, res, limitBytes);
    }
    if (!BODY_METHODS.has(req.method ?? "GET")) return next();
    const collector = new BodyCollector(limitBytes);
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("aborted", onAborted);
      req.off("error", onAborted);
    };
    const onData = (chunk: Buffer) => {
      try {
        collector.add(chunk);
      } catch {
        cleanup();
        req.pause();
        refuse(req, res, limitBytes);
      }
    };
    const onEnd = () => {
      cleanup();
      (req as WithBody)[BODY] = collector.result();
      next();
    };
    const onAborted = (error?: unknown) => {
      cleanup();
      // The client went away mid-body: nobody is left to answer.
      logger.info("page request body not received completely", { method: req.method, url: req.url, error });
      res.destroy();
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("aborted", onAborted);
    req.on("error", onAborted);
  };
}

/** The body {@link limitPageBodies} read for this request, or undefined (GET, HEAD, or not run). */
export function bufferedPageBody(req: IncomingMessage): Buffer | undefined {
  return (req as WithBody)[BODY];
}

/**
 * Express-compatible middleware after {@link limitPageBodies}: a query parameter or form field
 * with a NUL character or an unpaired surrogate is a 400 naming it (app/domain/pageInput.ts).
 */
export function refuseUnstorablePageInput(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) {
  const url = req.url ?? "/";
  const at = url.indexOf("?");
  const target = at < 0 ? { path: url, search: "" } : { path: url.slice(0, at), search: url.slice(at) };
  const found = pageInputProblem(target, { contentType: req.headers["content-type"], body: bufferedPageBody(req) });
  if (!found) return next();
  const message = `${found.where} ${found.problem}.`;
  res.writeHead(400, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(message) });
  res.end(req.method === "HEAD" ? undefined : message);
}
