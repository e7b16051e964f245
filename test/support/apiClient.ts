import { handleApi } from "~/api/router";
import type { ApiRequest } from "~/api/http";
import { BodyCollector, checkDeclaredLength } from "~/api/http";
import { remixRequest } from "./remixApp";

/**
 * One API call, sent three ways: over real HTTP to a spawned server (the lean lane), through
 * Remix's request handler (the resource routes), or in-process straight to the shared router (to
 * count the Postgres queries a handler sends). Every way returns status, headers and parsed body.
 */

export interface ApiCall {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string or Buffer as is. */
  body?: unknown;
}

export interface ApiResult {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: any;
}

function encode(body: unknown): Buffer | undefined {
  if (body === undefined) return undefined;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === "string") return Buffer.from(body);
  return Buffer.from(JSON.stringify(body));
}

function init(call: ApiCall): RequestInit {
  const body = encode(call.body);
  return {
    method: call.method ?? (body ? "POST" : "GET"),
    headers: { ...(body ? { "content-type": "application/json" } : {}), ...call.headers },
    body: body ? new Uint8Array(body) : undefined,
  };
}

async function result(response: Response): Promise<ApiResult> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text so a failing assertion shows it.
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body };
}

export async function overHttp(baseUrl: string, call: ApiCall): Promise<ApiResult> {
  return result(await fetch(new URL(call.path, baseUrl), init(call)));
}

export async function throughRemix(call: ApiCall): Promise<ApiResult> {
  return result(await remixRequest(call.path, init(call)));
}

export async function inProcess(call: ApiCall): Promise<ApiResult> {
  const body = encode(call.body) ?? Buffer.alloc(0);
  const headers = new Map(Object.entries({ "content-type": "application/json", ...call.headers }).map(([k, v]) => [k.toLowerCase(), v]));
  const url = new URL(call.path, "http://localhost");
  const request: ApiRequest = {
    method: call.method ?? (call.body === undefined ? "GET" : "POST"),
    path: url.pathname,
    target: call.path,
    query: () => url.searchParams,
    header: (name) => headers.get(name),
    body: async (limitBytes) => {
      checkDeclaredLength(String(body.length), limitBytes);
      const collector = new BodyCollector(limitBytes);
      collector.add(body);
      return collector.result();
    },
  };
  const response = await handleApi(request);
  let parsed: unknown = response.body;
  try {
    parsed = JSON.parse(response.body);
  } catch {
    // keep text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/**
 * A test's set-up deployment: registers `version` and makes it current through the lean lane
 * (POST /api/v1/deployments with promote). Anything but a 200 fails with the server's answer.
 */
export async function deployOverHttp(baseUrl: string, apiKey: string, deployment: { version: string; tasks: unknown[] }): Promise<ApiResult> {
  const deployed = await overHttp(baseUrl, { path: "/api/v1/deployments", headers: bearer(apiKey), body: { ...deployment, promote: true } });
  if (deployed.status !== 200) throw new Error(`POST /api/v1/deployments answered ${deployed.status}: ${JSON.stringify(deployed.body)}`);
  return deployed;
}
