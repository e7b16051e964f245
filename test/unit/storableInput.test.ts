import { describe, expect, it } from "vitest";
import { findUnstorableJson, MAX_JSON_DEPTH, unstorableText } from "~/domain/storableInput";

/** What JSON allows but Postgres, Prisma or JSON.stringify cannot take (found by the API fuzz test). */

describe("text that cannot be stored", () => {
  it("NUL and unpaired surrogates are refused; paired surrogates, controls and any other unicode are fine", () => {
    expect(unstorableText("a\u0000b")).toMatch(/NUL/);
    expect(unstorableText("\ud800")).toMatch(/unpaired/);
    expect(unstorableText("x\udfff")).toMatch(/unpaired/);
    expect(unstorableText("\ud83d\ude80 rocket")).toBeNull();
    expect(unstorableText("é\u0301 \u202e \ufeff \n\t \u0001 漢字 \u{10ffff}")).toBeNull();
    expect(unstorableText("")).toBeNull();
  });
});

describe("JSON values that cannot be stored", () => {
  it("finds NUL and lone surrogates in nested strings and in keys, with their path", () => {
    expect(findUnstorableJson(JSON.parse('{"payload":{"a":[1,"ok","x\\u0000"]}}'))).toEqual({ path: "payload.a[2]", problem: expect.stringMatching(/NUL/) });
    expect(findUnstorableJson(JSON.parse('{"options":{"tags":["\\ud800"]}}'))).toEqual({ path: "options.tags[0]", problem: expect.stringMatching(/unpaired/) });
    expect(findUnstorableJson(JSON.parse('{"m":{"\\u0000":1}}'))).toEqual({ path: "m", problem: expect.stringMatching(/key that contains a NUL/) });
    expect(findUnstorableJson(JSON.parse('{"a b":{"__proto__":"\\udc00"}}'))).toEqual({ path: '"a b".__proto__', problem: expect.stringMatching(/unpaired/) });
    expect(findUnstorableJson("\u0000")).toEqual({ path: "(root)", problem: expect.any(String) });
  });

  it("accepts ordinary values, including __proto__ keys, numbers, nulls and paired surrogates", () => {
    expect(findUnstorableJson(JSON.parse('{"__proto__":{"x":1},"a":[null,true,1.5,"🚀"],"b":{}}'))).toBeNull();
    expect(findUnstorableJson(null)).toBeNull();
    expect(findUnstorableJson(42)).toBeNull();
  });

  it(`allows ${MAX_JSON_DEPTH} levels of nesting and refuses one more, without recursing itself`, () => {
    const nested = (depth: number) => JSON.parse("[".repeat(depth) + "]".repeat(depth));
    expect(findUnstorableJson(nested(MAX_JSON_DEPTH))).toBeNull();
    expect(findUnstorableJson(nested(MAX_JSON_DEPTH + 1))?.problem).toMatch(/nested more than 256 levels/);
    // Far deeper than the call stack allows for a recursive walk (or JSON.stringify).
    expect(findUnstorableJson(JSON.parse('{"a":'.repeat(300_000) + "1" + "}".repeat(300_000)))?.problem).toMatch(/nested/);
  });
});
