import { BadRequestError } from "~/domain/errors";
import { findUnstorableJson } from "~/domain/storableInput";
import { getEnv } from "~/env.server";
import type { ApiRequest } from "./http";

/** The request body as JSON, within API_BODY_LIMIT_BYTES. An empty body is `{}`: every field of every API body is optional or checked by its schema. */
export async function readJsonBody(request: ApiRequest): Promise<{ raw: Buffer; value: unknown }> {
  const raw = await request.body(getEnv().API_BODY_LIMIT_BYTES);
  return { raw, value: parseJson(raw) };
}

/** Parses the body and refuses (400) what parses but cannot be stored (domain/storableInput.ts). */
export function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch (error) {
    throw new BadRequestError(`Invalid JSON body: ${(error as Error).message}`);
  }
  const unstorable = findUnstorableJson(value);
  if (unstorable) {
    throw new BadRequestError(`Invalid JSON body: ${unstorable.path} ${unstorable.problem}`, { path: unstorable.path });
  }
  return value;
}
