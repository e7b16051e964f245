import { describe, expect, it } from "vitest";
import { BodyCollector, checkDeclaredLength } from "~/api/http";
import { PayloadTooLargeError } from "~/domain/errors";

/** app/api/http.ts: the body-size guard, on the declared length and on the streamed total. */

describe("the body-size guard", () => {
  it("refuses a declared Content-Length over the limit before reading", () => {
    expect(() => checkDeclaredLength("11", 10)).toThrow(PayloadTooLargeError);
    expect(() => checkDeclaredLength("10", 10)).not.toThrow();
    expect(() => checkDeclaredLength(undefined, 10)).not.toThrow();
  });

  it("stops collecting as soon as the streamed total passes the limit", () => {
    const collector = new BodyCollector(10);
    collector.add(Buffer.from("12345"));
    collector.add(new Uint8Array([54, 55, 56, 57, 48]));
    expect(collector.result().toString()).toBe("1234567890");
    expect(() => collector.add(Buffer.from("!"))).toThrow(PayloadTooLargeError);
  });
});
