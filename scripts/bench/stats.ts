/**
 * The benchmark's arithmetic and its printed format, kept pure (no I/O) so that
 * test/unit/benchStats.test.ts can pin both. Times are milliseconds throughout.
 *
 * Lines follow the reference's text format, e.g.
 *   [redis cache, warm   ]  n=500   mean=0.084ms  p50=0.078ms  p95=0.105ms  p99=0.156ms  max=1.129ms
 *   [redis cache, warm   ]  n=2000  total=25ms  ops/s=80,389
 */

export interface LatencySummary {
  n: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface ThroughputSummary {
  n: number;
  concurrency: number;
  totalMs: number;
  opsPerSecond: number;
}

/** A value over the repetitions: its median and the range it moved in. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/**
 * Nearest-rank percentile of an ascending array: the smallest sample with at least `q` of the
 * samples at or below it. Always a measured value, never an interpolation between two.
 */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error("percentile of no samples");
  if (!(q >= 0 && q <= 1)) throw new Error(`percentile rank must be within 0..1, got ${q}`);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

export function summarizeLatencies(samplesMs: readonly number[]): LatencySummary {
  if (samplesMs.length === 0) throw new Error("no latency samples to summarize");
  const sorted = [...samplesMs].sort((a, b) => a - b);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    mean: sum / sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1],
  };
}

export function summarizeThroughput(n: number, concurrency: number, totalMs: number): ThroughputSummary {
  if (!(totalMs > 0)) throw new Error(`total time must be positive, got ${totalMs}`);
  return { n, concurrency, totalMs, opsPerSecond: (n * 1000) / totalMs };
}

/** The middle value; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error("spread of no values");
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Per-metric medians over repetitions (each metric independently, as the reference reports them). */
export function medianLatency(reps: readonly LatencySummary[]): LatencySummary {
  const pick = (key: keyof LatencySummary) => median(reps.map((r) => r[key]));
  return { n: pick("n"), mean: pick("mean"), p50: pick("p50"), p95: pick("p95"), p99: pick("p99"), max: pick("max") };
}

export function medianThroughput(reps: readonly ThroughputSummary[]): ThroughputSummary {
  const pick = (key: keyof ThroughputSummary) => median(reps.map((r) => r[key]));
  return { n: pick("n"), concurrency: pick("concurrency"), totalMs: pick("totalMs"), opsPerSecond: pick("opsPerSecond") };
}

/**
 * A ratio per repetition (numerator and denominator of the same repetition, measured minutes
 * apart at most), then its median and range. Pairing within a repetition keeps a load change
 * between repetitions from showing up as a spread the code did not cause.
 */
export function pairedRatio(numerators: readonly number[], denominators: readonly number[]): Spread {
  if (numerators.length !== denominators.length || numerators.length === 0) {
    throw new Error(`paired ratio needs equally many values on both sides (got ${numerators.length} and ${denominators.length})`);
  }
  return spread(numerators.map((n, i) => n / denominators[i]));
}

/** `0.084ms`: three decimals below 10 ms, fewer above (the digits that still mean something). */
export function formatMs(ms: number): string {
  const decimals = ms < 10 ? 3 : ms < 100 ? 2 : ms < 1000 ? 1 : 0;
  return `${ms.toFixed(decimals)}ms`;
}

/** `80,389`: whole number, thousands separated by commas whatever the locale of the machine. */
export function formatCount(value: number): string {
  return Math.round(value)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** `1.12×` — two decimals below 10, one below 100, none above. */
export function formatRatio(value: number): string {
  const decimals = value < 10 ? 2 : value < 100 ? 1 : 0;
  return `${value.toFixed(decimals)}×`;
}

export function label(name: string, width: number): string {
  return `[${name.padEnd(width)}]`;
}

function countField(n: number): string {
  return `n=${n}`.padEnd(6);
}

export function formatLatencyLine(name: string, width: number, s: LatencySummary): string {
  return [
    label(name, width),
    countField(s.n),
    `mean=${formatMs(s.mean)}`,
    `p50=${formatMs(s.p50)}`,
    `p95=${formatMs(s.p95)}`,
    `p99=${formatMs(s.p99)}`,
    `max=${formatMs(s.max)}`,
  ].join("  ");
}

export function formatThroughputLine(name: string, width: number, t: ThroughputSummary): string {
  return [label(name, width), countField(t.n), `total=${Math.round(t.totalMs)}ms`, `ops/s=${formatCount(t.opsPerSecond)}`].join("  ");
}

/** `0.071–0.090ms` */
export function formatMsRange(s: Spread): string {
  return `${formatMs(s.min).replace(/ms$/, "")}–${formatMs(s.max)}`;
}

/** `75,012–82,001` */
export function formatCountRange(s: Spread): string {
  return `${formatCount(s.min)}–${formatCount(s.max)}`;
}

export interface Target {
  /** `max`: the ratio must be at most `value`; `min`: at least. */
  kind: "max" | "min";
  value: number;
}

export function meetsTarget(ratio: number, target: Target): boolean {
  return target.kind === "max" ? ratio <= target.value : ratio >= target.value;
}

/**
 * `warm / floor, sequential p50   1.12×  [1.08–1.19×]  target ≤ 1.25  met`
 * The verdict is the median's; the range says how close the repetitions came to the line.
 */
export function formatRatioLine(name: string, width: number, ratio: Spread, target?: Target): string {
  const parts = [
    name.padEnd(width),
    formatRatio(ratio.median).padStart(8),
    `[${formatRatio(ratio.min).replace(/×$/, "")}–${formatRatio(ratio.max)}]`.padEnd(14),
  ];
  if (target) {
    parts.push(`target ${target.kind === "max" ? "≤" : "≥"} ${target.value}`);
    parts.push(meetsTarget(ratio.median, target) ? "met" : "MISSED");
  }
  return parts.join("  ").trimEnd();
}
