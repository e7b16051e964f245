import type { IncomingMessage, ServerResponse } from "node:http";
import { forwardedClientAddress } from "~/domain/clientAddress";
import { BadRequestError } from "~/domain/errors";
import { getEnv } from "~/env.server";
import { logger } from "~/services/logger.server";
import { inServerSpan } from "~/services/tracing.server";
import { BodyCollector, checkDeclaredLength, type ApiRequest, type ApiResponse } from "./http";
import { handleApi, isApiPath } from "./router";

/**
 * The lean lane (docs/decisions/0017-two-lanes-for-the-api.md): /api/* straight from Node's IncomingMessage to the
 * handlers — no web Request, no express, no Remix route matching. server.ts calls
 * {@link handleApiRequest} first and hands the request to express/Remix when it returns false.
 * It is exported from app/entry.server.tsx so that server.ts uses the build's module instance
 * (one set of pools, caches and counters per process).
 */

function readBody(req: IncomingMessage, limitBytes: number, onTooLarge: () => void): Promise<Buffer> {
  try {
    checkDeclaredLength(req.headers["content-length"], limitBytes);
  } catch (error) {
    onTooLarge();
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    const collector = new BodyCollector(limitBytes);
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onAborted);
    };
    const onData = (chunk: Buffer) => {
      try {
        collector.add(chunk);
      } catch (error) {
        cleanup();
        onTooLarge();
        reject(error);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(collector.result());
    };
    const onAborted = () => {
      cleanup();
      reject(new BadRequestError("The request body was not received completely"));
    };
    const onError = onAborted;
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onAborted);
  });
}

/** The body chunk by chunk; `state.unread` stays true unless it was read to its end (the connection is then closed after the answer). */
async function* readChunks(req: IncomingMessage, state: { unread: boolean }): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of req) yield chunk as Buffer;
  } catch {
    throw new BadRequestError("The request body was not received completely");
  }
  state.unread = false;
}

function send(req: IncomingMessage, res: ServerResponse, response: ApiResponse, closeConnection: boolean) {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = { ...response.headers, "content-length": Buffer.byteLength(response.body) };
  if (closeConnection) {
    // The rest of an oversized body is never read: close the connection after answering, and
    // drain what is already on its way so the client sees the 413 rather than a reset.
    headers.connection = "close";
    res.once("finish", () => req.resume());
  }
  res.writeHead(response.status, headers);
  res.end(req.method === "HEAD" ? undefined : response.body);
}

/** Serves the request and returns true when its path is under /api; returns false (untouched) otherwise. */
export function handleApiRequest(req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url ?? "/";
  if (!isApiPath(url)) return false;
  let tooLarge = false;
  const streamed = { unread: false };
  const parsedUrl = new URL(url, "http://localhost");
  const request: ApiRequest = {
    method: req.method ?? "GET",
    path: parsedUrl.pathname,
    target: url,
    clientAddress: forwardedClientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"], getEnv().TRUST_PROXY_HOPS),
    query: () => parsedUrl.searchParams,
    header: (name) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(", ") : value;
    },
    body: (limitBytes) => readBody(req, limitBytes, () => (tooLarge = true)),
    chunks: () => {
      streamed.unread = true;
      return readChunks(req, streamed);
    },
  };
  inServerSpan(request, "node", () => handleApi(request)).then(
    (response) => send(req, res, response, tooLarge || streamed.unread),
    (error: unknown) => {
      // handleApi maps every error to a response; this is a bug in the lane itself.
      logger.error("lean API lane failed", { method: request.method, path: request.path, error });
      send(req, res, { status: 500, headers: { "content-type": "application/json; charset=utf-8" }, body: '{"error":"Internal server error"}' }, true);
    },
  );
  return true;
}
