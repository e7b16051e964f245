import { describe, expect, it } from "vitest";
import { compactDuration, describeKeyTtl } from "~/domain/keyTtl";

describe("key TTL display", () => {
  it("shows a key without expiry as 'no expiry' and a missing key as absent", () => {
    expect(describeKeyTtl(-1)).toMatchObject({ label: "no expiry", state: "persistent" });
    expect(describeKeyTtl(-2)).toMatchObject({ label: "key absent", state: "missing" });
  });

  it("keeps the two most significant units, truncating the rest", () => {
    expect(compactDuration(86_399)).toBe("23h 59m");
    expect(compactDuration(86_400)).toBe("1d 0h");
    expect(compactDuration(2_592_000)).toBe("30d 0h");
    expect(compactDuration(3_661)).toBe("1h 1m");
    expect(compactDuration(61)).toBe("1m 1s");
    expect(compactDuration(59)).toBe("59s");
    expect(compactDuration(0)).toBe("0s");
  });

  it("puts the exact seconds in the hover title", () => {
    expect(describeKeyTtl(86_399)).toEqual({ label: "23h 59m", title: "Expires in 86,399 seconds", state: "expiring" });
    expect(describeKeyTtl(1).title).toBe("Expires in 1 second");
  });
});
