import { createHash, randomBytes } from "node:crypto";
import type { EnvironmentType } from "~/domain/environments";

/** Environment secret keys: `tr_<dev|stg|prod|prev>_<random>`. Only the sha256 hash is stored. */

const KEY_PREFIX: Record<EnvironmentType, string> = {
  DEVELOPMENT: "tr_dev_",
  STAGING: "tr_stg_",
  PRODUCTION: "tr_prod_",
  PREVIEW: "tr_prev_",
};

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  // 62 symbols: the modulo bias (256 % 62) is irrelevant at 24+ characters of entropy.
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

export function generateApiKey(type: EnvironmentType): string {
  return `${KEY_PREFIX[type]}${randomToken(32)}`;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** What the admin pages show of a key: its prefix and first four random characters. */
export function displayPrefix(key: string): string {
  const typeEnd = key.indexOf("_", 3) + 1;
  return key.slice(0, typeEnd + 4);
}

/** A syntactic check before any lookup, so garbage never reaches Redis or Postgres. */
export function looksLikeApiKey(key: string): boolean {
  return /^tr_(dev|stg|prod|prev)_[A-Za-z0-9]{16,128}$/.test(key);
}
