import { describe, expect, it } from "vitest";
import { forwardedClientAddress } from "~/domain/clientAddress";
import { isScanCursor } from "~/domain/scanCursor";

describe("forwardedClientAddress: as express's numeric trust proxy", () => {
  it("without trusted proxies, the connection's address (X-Forwarded-For ignored)", () => {
    expect(forwardedClientAddress("::ffff:10.0.0.1", "1.2.3.4", 0)).toBe("10.0.0.1");
  });
  it("with n trusted hops, the entry the outermost trusted proxy appended", () => {
    expect(forwardedClientAddress("10.0.0.1", "203.0.113.7", 1)).toBe("203.0.113.7");
    expect(forwardedClientAddress("10.0.0.1", "6.6.6.6, 203.0.113.7", 1)).toBe("203.0.113.7");
    expect(forwardedClientAddress("10.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.0.2", 2)).toBe("203.0.113.7");
    expect(forwardedClientAddress("10.0.0.1", "203.0.113.7", 5)).toBe("203.0.113.7");
    expect(forwardedClientAddress("10.0.0.1", undefined, 1)).toBe("10.0.0.1");
  });
});

describe("isScanCursor", () => {
  it.each(["0", "17", "18446744073709551615"])("accepts %s", (c) => expect(isScanCursor(c)).toBe(true));
  it.each(["18446744073709551616", "99999999999999999999", "-1", "1e3", "", "123456789012345678901"])("refuses %s", (c) => expect(isScanCursor(c)).toBe(false));
});
