import { describe, expect, it } from "vitest";
import { cpuBetween, withApplicationName } from "../../scripts/bench/postgresCost";

describe("bench:http's Postgres cost per server", () => {
  it("tags a server's connections with its application_name, keeping the rest of the URL", () => {
    const url = withApplicationName("postgresql://postgres@127.0.0.1:5432/hotpath_bench?sslmode=disable", "hotpath-bench-floor");
    expect(new URL(url).searchParams.get("application_name")).toBe("hotpath-bench-floor");
    expect(new URL(url).searchParams.get("sslmode")).toBe("disable");
    expect(new URL(url).pathname).toBe("/hotpath_bench");
  });

  it("counts a backend that appeared during the window from zero, and reports the ones that ended", () => {
    const before = new Map([
      [10, 500],
      [11, 40],
    ]);
    const after = new Map([
      [10, 530],
      [12, 7],
    ]);
    // 30 ticks of pid 10, 7 of the new pid 12; pid 11 ended (its last share is lost): 37 ticks = 370 ms.
    expect(cpuBetween(before, after)).toEqual({ ms: 370, vanished: 1 });
  });
});
