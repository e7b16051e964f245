import { describe, expect, it } from "vitest";
import {
  formatCount,
  formatLatencyLine,
  formatMs,
  formatRatioLine,
  formatThroughputLine,
  median,
  medianLatency,
  medianThroughput,
  meetsTarget,
  pairedRatio,
  percentile,
  spread,
  summarizeLatencies,
  summarizeThroughput,
} from "../../scripts/bench/stats";

describe("percentiles are nearest-rank: always a measured sample", () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it("p50 of 1..100 is 50, p95 is 95, p99 is 99, p100 is the max", () => {
    expect(percentile(hundred, 0.5)).toBe(50);
    expect(percentile(hundred, 0.95)).toBe(95);
    expect(percentile(hundred, 0.99)).toBe(99);
    expect(percentile(hundred, 1)).toBe(100);
  });

  it("p0 is the minimum and a single sample is every percentile", () => {
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile([7], 0.5)).toBe(7);
    expect(percentile([7], 0.99)).toBe(7);
  });

  it("small odd and even counts round the rank up", () => {
    expect(percentile([1, 2, 3], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4], 0.99)).toBe(4);
  });

  it("refuses no samples and ranks outside 0..1", () => {
    expect(() => percentile([], 0.5)).toThrow(/no samples/);
    expect(() => percentile([1], 1.5)).toThrow(/within 0..1/);
  });
});

describe("a latency summary is computed from the unsorted samples without changing them", () => {
  it("mean, p50, p95, p99, max", () => {
    const samples = [5, 1, 4, 2, 3];
    const s = summarizeLatencies(samples);
    expect(s).toEqual({ n: 5, mean: 3, p50: 3, p95: 5, p99: 5, max: 5 });
    expect(samples).toEqual([5, 1, 4, 2, 3]);
  });

  it("one slow outlier moves max and p99 of 100 samples, not p50", () => {
    const samples = [...Array.from({ length: 99 }, () => 0.1), 50];
    const s = summarizeLatencies(samples);
    expect(s.p50).toBe(0.1);
    expect(s.p99).toBe(0.1);
    expect(s.max).toBe(50);
    expect(s.mean).toBeCloseTo((99 * 0.1 + 50) / 100, 10);
  });

  it("refuses an empty run", () => {
    expect(() => summarizeLatencies([])).toThrow(/no latency samples/);
  });
});

describe("throughput is calls per second of wall time", () => {
  it("2,000 calls in 25 ms is 80,000 ops/s", () => {
    expect(summarizeThroughput(2000, 50, 25)).toEqual({ n: 2000, concurrency: 50, totalMs: 25, opsPerSecond: 80_000 });
  });

  it("refuses a zero or negative duration", () => {
    expect(() => summarizeThroughput(10, 1, 0)).toThrow(/positive/);
  });
});

describe("repetitions are reported as medians with their range", () => {
  it("median of odd and even counts", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow();
  });

  it("spread is median, min and max", () => {
    expect(spread([0.09, 0.07, 0.08])).toEqual({ median: 0.08, min: 0.07, max: 0.09 });
  });

  it("each metric's median is taken independently", () => {
    const m = medianLatency([
      { n: 500, mean: 1, p50: 0.9, p95: 2, p99: 9, max: 30 },
      { n: 500, mean: 3, p50: 0.7, p95: 4, p99: 3, max: 10 },
      { n: 500, mean: 2, p50: 0.8, p95: 3, p99: 5, max: 20 },
    ]);
    expect(m).toEqual({ n: 500, mean: 2, p50: 0.8, p95: 3, p99: 5, max: 20 });
    const t = medianThroughput([
      { n: 2000, concurrency: 50, totalMs: 30, opsPerSecond: 66_666 },
      { n: 2000, concurrency: 50, totalMs: 20, opsPerSecond: 100_000 },
      { n: 2000, concurrency: 50, totalMs: 25, opsPerSecond: 80_000 },
    ]);
    expect(t).toEqual({ n: 2000, concurrency: 50, totalMs: 25, opsPerSecond: 80_000 });
  });

  it("ratios pair each repetition's numerator with the same repetition's denominator", () => {
    // Load doubled every time between repetitions: both sides slowed together, the ratio did not move.
    const r = pairedRatio([1, 2, 4], [10, 20, 40]);
    expect(r).toEqual({ median: 0.1, min: 0.1, max: 0.1 });
    expect(() => pairedRatio([1], [1, 2])).toThrow(/equally many/);
  });
});

describe("lines use the reference's text format", () => {
  it("sequential line, label padded inside the brackets", () => {
    const line = formatLatencyLine("redis cache, warm", 20, {
      n: 500,
      mean: 0.084,
      p50: 0.078,
      p95: 0.105,
      p99: 0.156,
      max: 1.129,
    });
    expect(line).toBe("[redis cache, warm   ]  n=500   mean=0.084ms  p50=0.078ms  p95=0.105ms  p99=0.156ms  max=1.129ms");
  });

  it("parallel line with total and ops/s, thousands separated by commas", () => {
    const line = formatThroughputLine("redis cache, warm", 20, { n: 2000, concurrency: 50, totalMs: 24.88, opsPerSecond: 80_389.4 });
    expect(line).toBe("[redis cache, warm   ]  n=2000  total=25ms  ops/s=80,389");
  });

  it("milliseconds keep three decimals below 10 ms and fewer above; counts group by thousands", () => {
    expect(formatMs(0.0844)).toBe("0.084ms");
    expect(formatMs(12.3456)).toBe("12.35ms");
    expect(formatMs(1234.5)).toBe("1235ms");
    expect(formatCount(999)).toBe("999");
    expect(formatCount(1_234_567.4)).toBe("1,234,567");
  });

  it("a ratio line shows the median, the range of the repetitions and the verdict against its target", () => {
    const line = formatRatioLine("warm / floor, sequential p50", 30, { median: 1.12, min: 1.08, max: 1.19 }, { kind: "max", value: 1.25 });
    expect(line).toBe("warm / floor, sequential p50       1.12×  [1.08–1.19×]    target ≤ 1.25  met");
    const missed = formatRatioLine("warm / floor, parallel ops/s", 30, { median: 0.7, min: 0.65, max: 0.82 }, { kind: "min", value: 0.8 });
    expect(missed.endsWith("target ≥ 0.8  MISSED")).toBe(true);
  });

  it("targets: at most and at least, inclusive", () => {
    expect(meetsTarget(1.25, { kind: "max", value: 1.25 })).toBe(true);
    expect(meetsTarget(1.26, { kind: "max", value: 1.25 })).toBe(false);
    expect(meetsTarget(0.8, { kind: "min", value: 0.8 })).toBe(true);
    expect(meetsTarget(0.79, { kind: "min", value: 0.8 })).toBe(false);
  });
});
