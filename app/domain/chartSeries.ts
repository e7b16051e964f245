import type { SeriesPoint } from "~/domain/metricsMath";

/**
 * What the overview's charts draw, decided apart from drawing them (pure):
 * - the point that holds the running minute is incomplete: its values are dropped (null) and the
 *   chart shades its span, so a steady rate never seems to fall or spike at the right edge;
 * - a point with fewer than {@link LOW_SAMPLE_LOOKUPS} lookups is marked, so one lookup's 100 %
 *   is not read as a healthy hour;
 * - the hit-ratio axis zooms to the data, never cutting the 80 % band off.
 */

export const LOW_SAMPLE_LOOKUPS = 20;
export const HIT_RATE_BANDS = { green: 0.95, amber: 0.8 } as const;

type Counted = "hitsPerMinute" | "missesPerMinute" | "backfillsPerMinute";

export interface ChartPoint extends Omit<SeriesPoint, Counted> {
  hitsPerMinute: number | null;
  missesPerMinute: number | null;
  backfillsPerMinute: number | null;
  lowSample: boolean;
  /** Only on incomplete points: the values are null and the span is shaded. */
  partial: boolean;
}

export interface ChartSeries {
  points: ChartPoint[];
  /** The shaded span of the incomplete point, ms since the epoch; null when every point is complete. */
  partialSpan: { from: number; to: number } | null;
  /** Lower bound of the hit-ratio axis (the upper is 100 %). */
  hitRateFloor: number;
}

export function chartSeries(series: readonly SeriesPoint[], stepMinutes: number, nowMs: number): ChartSeries {
  const spanMs = stepMinutes * 60_000;
  let partialSpan: ChartSeries["partialSpan"] = null;
  const points = series.map((point): ChartPoint => {
    const partial = nowMs < point.time + spanMs;
    if (partial) partialSpan = { from: point.time, to: point.time + spanMs };
    const lowSample = (point.lookups ?? 0) > 0 && (point.lookups ?? 0) < LOW_SAMPLE_LOOKUPS;
    if (!partial) return { ...point, lowSample, partial };
    return {
      ...point,
      hitRate: null,
      hitsPerMinute: null,
      missesPerMinute: null,
      backfillsPerMinute: null,
      undeployedPerMinute: undefined,
      cacheP50Ms: null,
      cacheP99Ms: null,
      databaseP50Ms: null,
      databaseP99Ms: null,
      lowSample: false,
      partial,
    };
  });
  return { points, partialSpan, hitRateFloor: hitRateFloor(points) };
}

/** 5 % below the lowest hit rate shown, in steps of 5 %, and never above 75 % (the 80 % band stays in view). */
export function hitRateFloor(points: readonly { hitRate: number | null }[]): number {
  const rates = points.map((p) => p.hitRate).filter((r): r is number => r !== null);
  const lowest = Math.min(HIT_RATE_BANDS.amber - 0.05, ...rates);
  return Math.max(0, Math.floor((lowest - 0.05) * 20 + 1e-9) / 20);
}

/** A chart time in UTC (the page's one time zone): "14:05", or "Mon 14:00" for coarse steps. */
export function utcTick(time: number, stepMinutes: number): string {
  const iso = new Date(time).toISOString();
  const hm = iso.slice(11, 16);
  if (stepMinutes < 15) return hm;
  const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][new Date(time).getUTCDay()];
  return `${day} ${hm}`;
}
