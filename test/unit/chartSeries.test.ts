import { describe, expect, it } from "vitest";
import { chartSeries, hitRateFloor, utcTick } from "~/domain/chartSeries";
import type { SeriesPoint } from "~/domain/metricsMath";

const minute = 60_000;
const start = Date.UTC(2026, 11, 7, 14, 0);

function point(i: number, hitRate: number | null, lookups: number): SeriesPoint {
  return {
    time: start + i * minute,
    hitRate,
    hitsPerMinute: lookups,
    missesPerMinute: 0,
    backfillsPerMinute: 0,
    lookups,
    undeployedPerMinute: 1,
    cacheP50Ms: 0.2,
    cacheP99Ms: 0.5,
    databaseP50Ms: null,
    databaseP99Ms: null,
  };
}

describe("chartSeries", () => {
  it("drops the running minute's values and shades its span, whatever moment of the minute it is", () => {
    const series = [point(0, 0.99, 300), point(1, 0.99, 300), point(2, 0.99, 5)];
    for (const secondsIn of [1, 51]) {
      const { points, partialSpan } = chartSeries(series, 1, start + 2 * minute + secondsIn * 1000);
      expect(points[2]).toMatchObject({ partial: true, hitRate: null, hitsPerMinute: null, missesPerMinute: null, cacheP50Ms: null });
      expect(points[1]).toMatchObject({ partial: false, hitRate: 0.99, hitsPerMinute: 300 });
      expect(partialSpan).toEqual({ from: start + 2 * minute, to: start + 3 * minute });
    }
  });

  it("shades nothing when the window ended before now", () => {
    expect(chartSeries([point(0, 1, 100)], 1, start + 5 * minute).partialSpan).toBeNull();
  });

  it("marks points resting on fewer than 20 lookups, not empty ones", () => {
    const { points } = chartSeries([point(0, 1, 1), point(1, 0.9, 19), point(2, 0.9, 20), point(3, null, 0)], 1, start + 10 * minute);
    expect(points.map((p) => p.lowSample)).toEqual([true, true, false, false]);
  });
});

describe("hitRateFloor", () => {
  it("zooms to 70 % when every rate is high, keeping the 80 % band in view", () => {
    expect(hitRateFloor([{ hitRate: 0.999 }, { hitRate: 0.97 }])).toBeCloseTo(0.7);
    expect(hitRateFloor([])).toBeCloseTo(0.7);
  });
  it("reaches 5 % below a low rate, in 5 % steps, never below 0", () => {
    expect(hitRateFloor([{ hitRate: 0.5 }, { hitRate: null }])).toBeCloseTo(0.45);
    expect(hitRateFloor([{ hitRate: 0.02 }])).toBe(0);
  });
});

describe("utcTick", () => {
  it("writes times in UTC, with the weekday for coarse steps", () => {
    expect(utcTick(Date.UTC(2026, 11, 7, 14, 5), 1)).toBe("14:05");
    expect(utcTick(Date.UTC(2026, 11, 7, 14, 0), 60)).toBe("Mon 14:00");
  });
});
