import { describe, expect, it } from "vitest";
import { decodeRunCursor, encodeRunCursor } from "~/domain/runCursor";

describe("runs list cursor", () => {
  it("round-trips a row position, URL-safe", () => {
    const position = { createdAt: new Date("2026-11-27T10:11:12.345Z"), id: "cmabc123xyz" };
    const encoded = encodeRunCursor(position);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeRunCursor(encoded)).toEqual(position);
  });

  it("rejects anything it did not write instead of guessing a position", () => {
    expect(decodeRunCursor("")).toBeNull();
    expect(decodeRunCursor("not a cursor!")).toBeNull();
    expect(decodeRunCursor(Buffer.from("yesterday|abc").toString("base64url"))).toBeNull();
    expect(decodeRunCursor(Buffer.from("2026-11-27T10:11:12.345Z").toString("base64url"))).toBeNull();
    expect(decodeRunCursor(Buffer.from("2026-11-27T10:11:12.345Z|a'; drop").toString("base64url"))).toBeNull();
  });
});
