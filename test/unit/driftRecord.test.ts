import { describe, expect, it } from "vitest";
import { describeDrift, driftState, nextDriftRecord, RECENT_DRIFT_MS } from "~/domain/driftRecord";
import { digestEntries, NEGATIVE_ENTRY } from "~/domain/hashDigest";

const at = new Date("2026-12-01T12:00:00Z");

describe("nextDriftRecord and driftState", () => {
  it("drift found and left is 'drift'; found and rebuilt is 'repaired'; a later clean check keeps when it was seen", () => {
    const found = nextDriftRecord(null, { at, fields: 3, ownerMismatch: false, repaired: false, sample: ["a: x"] });
    expect(driftState(found, at.getTime())).toBe("drift");
    const rebuilt = nextDriftRecord(found, { at, fields: 3, ownerMismatch: false, repaired: true, sample: ["a: x"] });
    expect(driftState(rebuilt, at.getTime())).toBe("repaired");
    const later = new Date(at.getTime() + 60_000);
    const clean = nextDriftRecord(rebuilt, { at: later, fields: 0, ownerMismatch: false, repaired: false, sample: [] });
    expect(clean).toMatchObject({ checkedAt: later.toISOString(), fields: 0, seenAt: at.toISOString(), seenFields: 3, sample: ["a: x"] });
    expect(driftState(clean, later.getTime())).toBe("repaired");
    expect(driftState(clean, at.getTime() + RECENT_DRIFT_MS + 1)).toBe("in-sync");
    expect(driftState(null, at.getTime())).toBe("unchecked");
  });

  it("says what drifts", () => {
    expect(describeDrift({ fields: 1, ownerMismatch: false })).toBe("1 field");
    expect(describeDrift({ fields: 2, ownerMismatch: true })).toBe("owner and 2 fields");
    expect(describeDrift({ fields: 0, ownerMismatch: true })).toBe("owner (another worker's hash)");
  });
});

describe("digestEntries", () => {
  it("ignores order and negative entries, and changes with any value", () => {
    const a = digestEntries([["x", "1"], ["y", "2"], ["z", NEGATIVE_ENTRY]]);
    expect(a).toEqual(digestEntries([["y", "2"], ["x", "1"]]));
    expect(a.entries).toBe(2);
    expect(a.checksum).toMatch(/^[0-9a-f]{40}$/);
    expect(digestEntries([["x", "1"], ["y", "3"]]).checksum).not.toBe(a.checksum);
    expect(digestEntries([]).checksum).toBe("0".repeat(40));
  });
});
