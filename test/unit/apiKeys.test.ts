import { describe, expect, it } from "vitest";
import { displayPrefix, generateApiKey, hashApiKey, looksLikeApiKey } from "~/domain/apiKeys";

describe("environment API keys", () => {
  it("are shaped tr_<type>_<random> per environment type", () => {
    expect(generateApiKey("DEVELOPMENT")).toMatch(/^tr_dev_[A-Za-z0-9]{32}$/);
    expect(generateApiKey("STAGING")).toMatch(/^tr_stg_[A-Za-z0-9]{32}$/);
    expect(generateApiKey("PRODUCTION")).toMatch(/^tr_prod_[A-Za-z0-9]{32}$/);
    expect(generateApiKey("PREVIEW")).toMatch(/^tr_prev_[A-Za-z0-9]{32}$/);
    expect(generateApiKey("PRODUCTION")).not.toBe(generateApiKey("PRODUCTION"));
  });

  it("hash to a stable sha256 and show only a short prefix", () => {
    const key = "tr_prod_abcdefghijklmnop1234";
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).toBe(hashApiKey(key));
    expect(displayPrefix(key)).toBe("tr_prod_abcd");
  });

  it("rejects strings that cannot be keys before any lookup", () => {
    expect(looksLikeApiKey("tr_prod_abcdefghijklmnop1234")).toBe(true);
    expect(looksLikeApiKey("tr_prod_short")).toBe(false);
    expect(looksLikeApiKey("sk_live_abcdefghijklmnop1234")).toBe(false);
    expect(looksLikeApiKey("tr_prod_abcdefghijklmnop1234 ")).toBe(false);
  });
});
