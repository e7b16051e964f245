import { createHmac, timingSafeEqual } from "node:crypto";
import { UnauthorizedError } from "~/domain/errors";
import { prisma } from "~/db.server";
import { getEnv } from "~/env.server";
import type { AuthenticatedEnvironment } from "~/services/apiKeyAuth.server";
import { logger } from "~/services/logger.server";

/**
 * The deploy webhook's signature (docs/api.md, "Signing a request"): `x-hotpath-signature: t=<unix seconds>,v2=<hex>` where
 * v2 = HMAC-SHA256(project webhook secret, "<t>.<METHOD>.<path with query, as sent>.<raw body>"):
 * method and path are signed, so a signed promote of one version cannot be replayed to another's
 * path, nor a deploy body to a promote path. The older v1 (HMAC of "<t>.<raw body>") is refused
 * unless WEBHOOK_ACCEPT_V1=true (a migration switch). A signature is accepted once, within 300
 * seconds of its timestamp; the record of used signatures is keyed by the verified digest and kept
 * in Postgres (see rejectReplay), so neither Redis being down nor a Redis data loss affects it.
 */

export const SIGNATURE_HEADER = "x-hotpath-signature";
export const SIGNATURE_TOLERANCE_SECONDS = 300;
// Every project has a `prod`; without a `project` hint, each is tried. Bounded so that one request
// cannot make the server compute thousands of HMACs.
const MAX_CANDIDATES = 100;

/** What a v2 signature covers besides the timestamp: the method, the request target as sent, the raw body. */
export interface SignedRequest {
  method: string;
  /** Path with query string, exactly as in the request line (e.g. `/api/v1/deployments/1.2.0/promote`). */
  target: string;
  body: Buffer | string;
}

export function computeSignature(secret: string, timestamp: number | string, request: SignedRequest): string {
  return createHmac("sha256", secret)
    .update(`${timestamp}.${request.method.toUpperCase()}.${request.target}.`)
    .update(request.body)
    .digest("hex");
}

/** The legacy scheme, accepted only with WEBHOOK_ACCEPT_V1=true: neither method nor path is signed. */
export function computeV1Signature(secret: string, timestamp: number | string, rawBody: Buffer | string): string {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(rawBody).digest("hex");
}

/** The header value a sender puts on a request (the TypeScript half of docs/api.md's recipe). */
export function signatureHeader(secret: string, request: SignedRequest, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v2=${computeSignature(secret, timestamp, request)}`;
}

export interface ParsedSignature {
  timestamp: number;
  v2: Buffer[];
  v1: Buffer[];
}

/** Parses `t=…,v2=…` (several v2 or v1 allowed); a malformed header is a 401 that says what is expected. */
export function parseSignatureHeader(header: string): ParsedSignature {
  let timestamp: number | undefined;
  const parsed: Pick<ParsedSignature, "v1" | "v2"> = { v1: [], v2: [] };
  for (const part of header.split(",")) {
    const [name, value] = part.trim().split("=", 2);
    if (name === "t" && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if ((name === "v1" || name === "v2") && value && /^[0-9a-f]{64}$/i.test(value)) parsed[name].push(Buffer.from(value, "hex"));
  }
  if (timestamp === undefined || parsed.v2.length + parsed.v1.length === 0) {
    throw new UnauthorizedError(
      `Malformed ${SIGNATURE_HEADER} header: expected t=<unix seconds>,v2=<hex HMAC-SHA256 of "<t>.<METHOD>.<path>.<body>">`,
    );
  }
  return { timestamp, ...parsed };
}

/** A v1-only header is refused up front (unless v1 is accepted), with what to do instead. */
export function assertSchemeAccepted(signature: ParsedSignature, acceptV1: boolean) {
  if (signature.v2.length === 0 && !acceptV1) {
    throw new UnauthorizedError(
      `v1 signatures are refused: sign with v2 = HMAC-SHA256(secret, "<t>.<METHOD>.<path with query>.<body>") (docs/api.md)`,
    );
  }
}

/** Rejects a timestamp more than the tolerance away from now, in either direction. */
export function assertFresh(signature: ParsedSignature, nowSeconds = Math.floor(Date.now() / 1000)) {
  if (Math.abs(nowSeconds - signature.timestamp) > SIGNATURE_TOLERANCE_SECONDS) {
    throw new UnauthorizedError(
      `Signature timestamp is outside the ${SIGNATURE_TOLERANCE_SECONDS}-second tolerance; sign the request again`,
    );
  }
}

/** Constant-time: true when one of the candidates equals `expected`; every candidate is compared. */
function anyEqual(candidates: Buffer[], expected: Buffer): boolean {
  let matched = false;
  for (const candidate of candidates) {
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
  }
  return matched;
}

/**
 * Constant-time: the HMAC of this request under `secret` when one of the header's signatures
 * equals it, else null. The returned digest (not the header's text) identifies the request for
 * replay checks, so adding or reordering values cannot make a replay look new.
 */
export function matchSecret(signature: ParsedSignature, secret: string, request: SignedRequest, acceptV1 = false): string | null {
  const v2 = Buffer.from(computeSignature(secret, signature.timestamp, request), "hex");
  if (anyEqual(signature.v2, v2)) return v2.toString("hex");
  if (!acceptV1) return null;
  const v1 = Buffer.from(computeV1Signature(secret, signature.timestamp, request.body), "hex");
  return anyEqual(signature.v1, v1) ? v1.toString("hex") : null;
}

// A record outlives the last second its signature's timestamp is still accepted, with a margin for
// clock differences between this process and Postgres.
const RECORD_MARGIN_SECONDS = 60;
const PURGE_INTERVAL_MS = 60_000;
let lastPurge = 0;

/**
 * Records a verified signature digest in Postgres; a second use (sequential or concurrent) is a
 * 401. The record is kept until `timestamp + tolerance + margin`, so it outlives every moment the
 * tolerance still accepts the signature (also one timestamped in the future), and a Redis data
 * loss cannot erase it. Call only after the HMAC matched, so that garbage cannot fill the table.
 */
export async function rejectReplay(digest: string, timestamp: number, nowSeconds = Math.floor(Date.now() / 1000)): Promise<void> {
  const expiresAt = new Date((timestamp + SIGNATURE_TOLERANCE_SECONDS + RECORD_MARGIN_SECONDS) * 1000);
  const inserted = await prisma().$executeRaw`
    INSERT INTO "UsedWebhookSignature" ("digest", "expiresAt") VALUES (${digest}, ${expiresAt})
    ON CONFLICT ("digest") DO NOTHING`;
  if (inserted === 0) throw new UnauthorizedError("Signature has already been used (replay); sign the request again");
  if (nowSeconds * 1000 - lastPurge >= PURGE_INTERVAL_MS) {
    lastPurge = nowSeconds * 1000;
    // Off the request's answer: a failed purge is retried at the next interval.
    purgeUsedSignatures(new Date(nowSeconds * 1000)).catch((error) => logger.warn("purging used webhook signatures failed", { error }));
  }
}

/** Deletes the records whose signatures can no longer be fresh. Returns how many went. */
export async function purgeUsedSignatures(now = new Date()): Promise<number> {
  const { count } = await prisma().usedWebhookSignature.deleteMany({ where: { expiresAt: { lt: now } } });
  return count;
}

/**
 * The environment a signed request is for. The signature does not name its project, so the
 * candidates are the environments with that slug (narrowed by `project`, an id or slug, when the
 * body gives one) and the project whose secret produced the HMAC is the sender. Secrets are read
 * from Postgres on every call, so a rotated secret stops verifying at once.
 */
export async function authenticateSignedRequest(input: {
  header: string;
  request: SignedRequest;
  environmentSlug: string;
  project?: string;
  nowSeconds?: number;
}): Promise<AuthenticatedEnvironment> {
  const signature = parseSignatureHeader(input.header);
  const acceptV1 = getEnv().WEBHOOK_ACCEPT_V1;
  assertSchemeAccepted(signature, acceptV1);
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
    const digest = matchSecret(signature, candidate.project.webhookSecret, input.request, acceptV1);
    if (digest) {
      await rejectReplay(digest, signature.timestamp, input.nowSeconds);
      return { id: candidate.id, type: candidate.type, slug: candidate.slug, projectId: candidate.projectId };
    }
  }
  throw new UnauthorizedError("Invalid signature");
}
