import { createHmac, timingSafeEqual } from "node:crypto";
import { ServiceUnavailableError, UnauthorizedError } from "~/domain/errors";
import { prisma } from "~/db.server";
import { keyPrefix } from "~/redis.server";
import { apiRedis } from "~/services/apiRedis.server";
import type { AuthenticatedEnvironment } from "~/services/apiKeyAuth.server";
import { logger } from "~/services/logger.server";

/**
 * The deploy webhook's signature (docs/api.md, "Signing a request"): `x-hotpath-signature: t=<unix seconds>,v1=<hex>` where
 * v1 = HMAC-SHA256(project webhook secret, "<t>.<raw body>"). A signature is accepted once, within
 * 300 seconds of its timestamp; it is remembered in Redis with SET NX for twice that window, so
 * a replay is refused even if its timestamp is still fresh. Without Redis, replay protection
 * cannot be guaranteed, so signed requests fail closed (503); key-authenticated ones still work.
 */

export const SIGNATURE_HEADER = "x-hotpath-signature";
export const SIGNATURE_TOLERANCE_SECONDS = 300;
// Every project has a `prod`; without a `project` hint, each is tried. Bounded so that one request
// cannot make the server compute thousands of HMACs.
const MAX_CANDIDATES = 100;

export function computeSignature(secret: string, timestamp: number | string, rawBody: Buffer | string): string {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(rawBody).digest("hex");
}

/** The header value a sender puts on a request (the TypeScript half of docs/api.md's recipe). */
export function signatureHeader(secret: string, rawBody: Buffer | string, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${computeSignature(secret, timestamp, rawBody)}`;
}

export interface ParsedSignature {
  timestamp: number;
  signatures: Buffer[];
}

/** Parses `t=…,v1=…` (several v1 allowed); a malformed header is a 401 that says what is expected. */
export function parseSignatureHeader(header: string): ParsedSignature {
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(",")) {
    const [name, value] = part.trim().split("=", 2);
    if (name === "t" && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (name === "v1" && value && /^[0-9a-f]{64}$/i.test(value)) signatures.push(Buffer.from(value, "hex"));
  }
  if (timestamp === undefined || signatures.length === 0) {
    throw new UnauthorizedError(`Malformed ${SIGNATURE_HEADER} header: expected t=<unix seconds>,v1=<hex HMAC-SHA256>`);
  }
  return { timestamp, signatures };
}

/** Rejects a timestamp more than the tolerance away from now, in either direction. */
export function assertFresh(signature: ParsedSignature, nowSeconds = Math.floor(Date.now() / 1000)) {
  if (Math.abs(nowSeconds - signature.timestamp) > SIGNATURE_TOLERANCE_SECONDS) {
    throw new UnauthorizedError(
      `Signature timestamp is outside the ${SIGNATURE_TOLERANCE_SECONDS}-second tolerance; sign the request again`,
    );
  }
}

/**
 * Constant-time: the HMAC of this body under `secret` when one of the header's signatures equals
 * it, else null. The returned digest (not the header's text) identifies the request for replay
 * checks, so adding or reordering v1 values cannot make a replay look new.
 */
export function matchSecret(signature: ParsedSignature, secret: string, rawBody: Buffer): string | null {
  const expected = Buffer.from(computeSignature(secret, signature.timestamp, rawBody), "hex");
  let matched = false;
  // Compare every candidate so the time taken does not say which one matched.
  for (const candidate of signature.signatures) {
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
  }
  return matched ? expected.toString("hex") : null;
}

/**
 * Records a verified signature digest; a second use (sequential or concurrent) is a 401. Call only
 * after the HMAC matched, so that garbage cannot fill Redis.
 */
export async function rejectReplay(digest: string): Promise<void> {
  const unavailable = new ServiceUnavailableError(
    "Redis is unavailable, so signed requests cannot be checked for replay; retry later or use the API key",
  );
  const client = await apiRedis();
  if (!client) throw unavailable;
  let stored: string | null;
  try {
    stored = await client.set(`${keyPrefix()}webhook-signature:${digest}`, "1", "EX", SIGNATURE_TOLERANCE_SECONDS * 2, "NX");
  } catch (error) {
    logger.error("webhook replay check failed: Redis unavailable", { error });
    throw unavailable;
  }
  if (stored === null) throw new UnauthorizedError("Signature has already been used (replay); sign the request again");
}

/**
 * The environment a signed request is for. The signature does not name its project, so the
 * candidates are the environments with that slug (narrowed by `project`, an id or slug, when the
 * body gives one) and the project whose secret produced the HMAC is the sender. Secrets are read
 * from Postgres on every call, so a rotated secret stops verifying at once.
 */
export async function authenticateSignedRequest(input: {
  header: string;
  rawBody: Buffer;
  environmentSlug: string;
  project?: string;
  nowSeconds?: number;
}): Promise<AuthenticatedEnvironment> {
  const signature = parseSignatureHeader(input.header);
  assertFresh(signature, input.nowSeconds);
  const candidates = await prisma().runtimeEnvironment.findMany({
    where: {
      slug: input.environmentSlug,
      ...(input.project ? { project: { OR: [{ id: input.project }, { slug: input.project }] } } : {}),
    },
    select: { id: true, type: true, slug: true, projectId: true, project: { select: { webhookSecret: true } } },
    take: MAX_CANDIDATES,
  });
  for (const candidate of candidates) {
    const digest = matchSecret(signature, candidate.project.webhookSecret, input.rawBody);
    if (digest) {
      await rejectReplay(digest);
      return { id: candidate.id, type: candidate.type, slug: candidate.slug, projectId: candidate.projectId };
    }
  }
  throw new UnauthorizedError("Invalid signature");
}
