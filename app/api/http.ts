import { PayloadTooLargeError } from "~/domain/errors";

/**
 * The tiny HTTP abstraction the API handlers are written against. Two adapters produce it: the
 * lean lane (Node's IncomingMessage, app/api/node.ts) and the Remix resource routes (a web
 * Request, app/api/remix.ts). Handlers never see either, so both lanes run the same code.
 */

export interface ApiRequest {
  /** Upper-case HTTP method. */
  method: string;
  /** Path without the query string, normalised by the WHATWG URL parser in both lanes. */
  path: string;
  /** Path with query string as sent in the request line (what a v2 webhook signature covers). */
  target: string;
  /** The client's address (TRUST_PROXY_HOPS decides whether X-Forwarded-For is believed); undefined when unknown. */
  clientAddress?: string;
  /** The query string's parameters. */
  query(): URLSearchParams;
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
  /**
   * The whole body. Rejects with {@link PayloadTooLargeError} when it is longer than `limitBytes`:
   * from Content-Length before reading anything, and while streaming (chunked bodies, lying
   * lengths) before the whole body is buffered.
   */
  body(limitBytes: number): Promise<Buffer>;
  /**
   * The body as it arrives, chunk by chunk (a batch's NDJSON item stream): never buffered whole.
   * A broken upload throws a 400. Absent in fakes: callers then read {@link body}.
   */
  chunks?(): AsyncIterable<Uint8Array>;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" } as const;

export function json(status: number, data: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(data) };
}

/** The body-size guard shared by both adapters: a declared Content-Length over the limit is refused unread. */
export function checkDeclaredLength(contentLength: string | undefined | null, limitBytes: number) {
  if (contentLength === undefined || contentLength === null || contentLength === "") return;
  const declared = Number(contentLength);
  if (Number.isFinite(declared) && declared > limitBytes) throw new PayloadTooLargeError(limitBytes);
}

/** Accumulates streamed chunks and throws as soon as the running total passes the limit. */
export class BodyCollector {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limitBytes: number) {}

  add(chunk: Uint8Array) {
    this.size += chunk.byteLength;
    if (this.size > this.limitBytes) throw new PayloadTooLargeError(this.limitBytes);
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }

  result(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
  }
}
