import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  assertFresh,
  assertSchemeAccepted,
  computeSignature,
  computeV1Signature,
  matchSecret,
  parseSignatureHeader,
  signatureHeader,
} from "~/services/webhookSignature.server";

/** app/services/webhookSignature.server.ts: the deploy webhook's signature maths and freshness window. */


describe("webhook signatures", () => {
  const secret = "whsec_test";
  const body = Buffer.from('{"environment":"prod","version":"1","tasks":[]}');
  const deploy = { method: "POST", target: "/api/v1/deployments", body };

  it("a header made by signatureHeader verifies; another secret or body does not", () => {
    const parsed = parseSignatureHeader(signatureHeader(secret, deploy, 1_700_000_000));
    expect(matchSecret(parsed, secret, deploy)).toBe(computeSignature(secret, 1_700_000_000, deploy));
    expect(matchSecret(parsed, "whsec_other", deploy)).toBeNull();
    expect(matchSecret(parsed, secret, { ...deploy, body: Buffer.from(body.toString().replace('"1"', '"2"')) })).toBeNull();
  });

  // Issue 12, finding 3: v2 binds the method and the path (with its query) as sent.
  it("v2 binds method and path: the same body signed for one route does not verify on another", () => {
    const promoteA = { method: "POST", target: "/api/v1/deployments/A/promote", body: Buffer.from('{"environment":"prod"}') };
    const parsed = parseSignatureHeader(signatureHeader(secret, promoteA, 1_700_000_000));
    expect(matchSecret(parsed, secret, promoteA)).not.toBeNull();
    expect(matchSecret(parsed, secret, { ...promoteA, target: "/api/v1/deployments/B/promote" })).toBeNull();
    expect(matchSecret(parsed, secret, { ...promoteA, target: "/api/v1/deployments/A/promote?dryRun=1" })).toBeNull();
    expect(matchSecret(parsed, secret, { ...promoteA, target: "/api/v1/deployments" })).toBeNull();
    expect(matchSecret(parsed, secret, { ...promoteA, method: "PUT" })).toBeNull();
    // Two promotions with the same body in the same second have different digests (no false replay).
    expect(computeSignature(secret, 1, promoteA)).not.toBe(computeSignature(secret, 1, { ...promoteA, target: "/api/v1/deployments/B/promote" }));
  });

  it("v1 (body only) verifies only when accepted (WEBHOOK_ACCEPT_V1), and a v1-only header is refused otherwise", () => {
    const v1Header = `t=1700000000,v1=${computeV1Signature(secret, 1_700_000_000, body)}`;
    const parsed = parseSignatureHeader(v1Header);
    expect(matchSecret(parsed, secret, deploy)).toBeNull();
    expect(matchSecret(parsed, secret, deploy, true)).toBe(computeV1Signature(secret, 1_700_000_000, body));
    expect(() => assertSchemeAccepted(parsed, false)).toThrow(expect.objectContaining({ status: 401, message: expect.stringMatching(/v1 signatures are refused/) }));
    expect(() => assertSchemeAccepted(parsed, true)).not.toThrow();
  });

  it("the shell recipe of docs/api.md (openssl) computes the same digest", () => {
    const t = 1_700_000_000;
    const shell = `printf '%s' "$T.POST.$TARGET.$BODY" | openssl dgst -sha256 -hmac "$HOTPATH_WEBHOOK_SECRET" -hex | sed 's/^.* //'`;
    const digest = execFileSync("sh", ["-c", shell], {
      env: { ...process.env, T: String(t), TARGET: deploy.target, BODY: body.toString(), HOTPATH_WEBHOOK_SECRET: secret },
    })
      .toString()
      .trim();
    expect(digest).toBe(computeSignature(secret, t, deploy));
  });

  it("timestamps more than 300 s away in either direction are refused", () => {
    const at = (t: number) => parseSignatureHeader(`t=${t},v2=${"0".repeat(64)}`);
    expect(() => assertFresh(at(1_000), 1_300)).not.toThrow();
    expect(() => assertFresh(at(1_000), 1_301)).toThrow(expect.objectContaining({ status: 401 }));
    expect(() => assertFresh(at(1_301), 1_000)).toThrow(expect.objectContaining({ status: 401 }));
  });

  it("a header without a timestamp or a 64-hex v2 (or v1) is malformed (401)", () => {
    for (const header of ["", "t=1", `v2=${"a".repeat(64)}`, `t=x,v2=${"a".repeat(64)}`, "t=1,v2=abc", "t=1,v3=" + "a".repeat(64)]) {
      expect(() => parseSignatureHeader(header)).toThrow(expect.objectContaining({ status: 401 }));
    }
  });
});
