import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { assertFresh, computeSignature, matchSecret, parseSignatureHeader, signatureHeader } from "~/services/webhookSignature.server";

/** app/services/webhookSignature.server.ts: the deploy webhook's signature maths and freshness window. */

describe("webhook signatures", () => {
  const secret = "whsec_test";
  const body = Buffer.from('{"environment":"prod","version":"1","tasks":[]}');

  it("a header made by signatureHeader verifies; another secret or body does not", () => {
    const parsed = parseSignatureHeader(signatureHeader(secret, body, 1_700_000_000));
    expect(matchSecret(parsed, secret, body)).toBe(computeSignature(secret, 1_700_000_000, body));
    expect(matchSecret(parsed, "whsec_other", body)).toBeNull();
    expect(matchSecret(parsed, secret, Buffer.from(body.toString().replace('"1"', '"2"')))).toBeNull();
  });

  it("the shell recipe of docs/api.md (openssl) computes the same digest", () => {
    const t = 1_700_000_000;
    const shell = `printf '%s' "$T.$BODY" | openssl dgst -sha256 -hmac "$HOTPATH_WEBHOOK_SECRET" -hex | sed 's/^.* //'`;
    const digest = execFileSync("sh", ["-c", shell], {
      env: { ...process.env, T: String(t), BODY: body.toString(), HOTPATH_WEBHOOK_SECRET: secret },
    })
      .toString()
      .trim();
    expect(digest).toBe(computeSignature(secret, t, body));
  });

  it("timestamps more than 300 s away in either direction are refused", () => {
    const at = (t: number) => parseSignatureHeader(`t=${t},v1=${"0".repeat(64)}`);
    expect(() => assertFresh(at(1_000), 1_300)).not.toThrow();
    expect(() => assertFresh(at(1_000), 1_301)).toThrow(expect.objectContaining({ status: 401 }));
    expect(() => assertFresh(at(1_301), 1_000)).toThrow(expect.objectContaining({ status: 401 }));
  });

  it("a header without a timestamp or a 64-hex v1 is malformed (401)", () => {
    for (const header of ["", "t=1", `v1=${"a".repeat(64)}`, `t=x,v1=${"a".repeat(64)}`, "t=1,v1=abc"]) {
      expect(() => parseSignatureHeader(header)).toThrow(expect.objectContaining({ status: 401 }));
    }
  });
});
