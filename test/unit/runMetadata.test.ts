import { describe, expect, it } from "vitest";
import { applyMetadataUpdate, UpdateMetadataBody } from "~/domain/runMetadata";

describe("metadata updates", () => {
  it("applies the SDK's operations in order on the current metadata", () => {
    const next = applyMetadataUpdate(
      { count: 1, list: [1, 2] },
      {
        operations: [
          { type: "increment", key: "count", value: 2 },
          { type: "append", key: "list", value: 3 },
          { type: "remove", key: "list", value: 1 },
          { type: "set", key: "$.deep.step", value: "x" },
          { type: "delete", key: "gone" },
        ],
      },
    );
    expect(next).toEqual({ count: 3, list: [2, 3], deep: { step: "x" } });
  });

  it("a whole new object replaces the old one before the operations", () => {
    expect(applyMetadataUpdate({ a: 1 }, { metadata: { b: 2 }, operations: [{ type: "update", value: { c: 3 } }] })).toEqual({ c: 3 });
    expect(applyMetadataUpdate(null, { metadata: { b: 2 } })).toEqual({ b: 2 });
  });

  it("refuses keys that reach the prototype or name nothing", () => {
    for (const key of ["__proto__", "$.a.constructor", "$", "$.", ""]) {
      expect(UpdateMetadataBody.safeParse({ operations: [{ type: "set", key, value: 1 }] }).success).toBe(false);
    }
  });
});
