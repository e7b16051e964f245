import { BadRequestError, PayloadTooLargeError } from "~/domain/errors";
import { inServerSpan } from "~/services/tracing.server";
import { BodyCollector, checkDeclaredLength, type ApiRequest } from "./http";
import { handleApi } from "./router";

/**
 * The Remix lane: the `app/routes/api.*` resource routes hand their web Request to the same
 * router and handlers as the lean lane (app/api/node.ts). Used by `remix dev` and by tests that
 * go through Remix's request handler; production serves /api/* through the lean lane.
 */

async function readBody(request: Request, limitBytes: number): Promise<Buffer> {
  checkDeclaredLength(request.headers.get("content-length"), limitBytes);
  const collector = new BodyCollector(limitBytes);
  if (!request.body) return collector.result();
  const reader = request.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return collector.result();
      collector.add(value);
    }
  } catch (error) {
    // Stop the upload as soon as it is over the limit (or broke); the rest is never buffered.
    await reader.cancel().catch(() => {});
    if (error instanceof PayloadTooLargeError) throw error;
    throw new BadRequestError("The request body was not received completely");
  } finally {
    reader.releaseLock();
  }
}

async function* readChunks(request: Request): AsyncIterable<Uint8Array> {
  if (!request.body) return;
  const reader = request.body.getReader();
  try {
    for (;;) {
      let read: ReadableStreamReadResult<Uint8Array>;
      try {
        read = await reader.read();
      } catch {
        throw new BadRequestError("The request body was not received completely");
      }
      if (read.done) return;
      yield read.value;
    }
  } finally {
    // Stopped early (a bad line, a limit): the rest of the upload is never read.
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** `context` is the load context server.ts (and the tests) pass: its `clientAddress` feeds the unknown-key budget. */
export async function handleRemixApiRequest(request: Request, context?: unknown): Promise<Response> {
  const clientAddress = (context as { clientAddress?: unknown } | undefined)?.clientAddress;
  const url = new URL(request.url);
  const apiRequest: ApiRequest = {
    method: request.method,
    path: url.pathname,
    target: `${url.pathname}${url.search}`,
    clientAddress: typeof clientAddress === "string" ? clientAddress : undefined,
    query: () => url.searchParams,
    header: (name) => request.headers.get(name) ?? undefined,
    body: (limitBytes) => readBody(request, limitBytes),
    chunks: () => readChunks(request),
  };
  const response = await inServerSpan(apiRequest, "remix", () => handleApi(apiRequest));
  return new Response(request.method === "HEAD" ? null : response.body, { status: response.status, headers: response.headers });
}
