import { describe, expect, it } from "vitest";
import { containsPattern, escapeGlob } from "~/domain/redisGlob";

describe("Redis MATCH patterns", () => {
  it("escapes every glob metacharacter so a literal matches only itself", () => {
    expect(escapeGlob("a*b?c[d]e\\f")).toBe("a\\*b\\?c\\[d\\]e\\\\f");
    expect(escapeGlob("tr:task-meta:{env1}:worker:")).toBe("tr:task-meta:{env1}:worker:");
  });

  it("builds a substring filter, and matches everything for an empty filter", () => {
    expect(containsPattern("email")).toBe("*email*");
    expect(containsPattern("a*")).toBe("*a\\**");
    expect(containsPattern("")).toBe("*");
  });
});
