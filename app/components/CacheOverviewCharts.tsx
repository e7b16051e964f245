import { type ReactNode, useEffect, useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ReferenceArea, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { chartSeries, type ChartPoint, HIT_RATE_BANDS, LOW_SAMPLE_LOOKUPS, utcTick } from "~/domain/chartSeries";
import type { SeriesPoint } from "~/domain/metricsMath";

/**
 * The overview's charts, drawn with recharts from what domain/chartSeries.ts decided: the
 * incomplete last point shaded and left out, the hit-ratio axis zoomed with its 95 % / 80 % bands,
 * low-sample points marked, misses drawn above back-fills, triggers for undeployed tasks as their
 * own line, every time in UTC. They render in the browser only (recharts measures its container);
 * each figure carries a text summary for screen readers.
 */

const CHART_HEIGHT = 220;
const COLORS = {
  hits: "#15803d",
  misses: "#dc2626",
  backfills: "#7c3aed",
  undeployed: "#b45309",
  rate: "#4f46e5",
  cache: "#0891b2",
  database: "#ea580c",
  partial: "#e2e8f0",
};

function useMounted(): boolean {
  const [mounted, setMounted] = useState(false);
  useEffect(() => setMounted(true), []);
  return mounted;
}

function formatMs(value: number): string {
  if (value < 1) return `${Math.round(value * 1000)} µs`;
  return value < 10 ? `${Number(value.toFixed(1))} ms` : `${Math.round(value)} ms`;
}

function ChartCard({ title, subtitle, summary, children }: { title: string; subtitle: string; summary: string; children: ReactNode }) {
  const mounted = useMounted();
  return (
    <figure className="min-w-0 overflow-hidden rounded-lg border border-slate-200 bg-white p-4">
      <figcaption className="mb-3">
        <p className="text-sm font-semibold text-slate-900">{title}</p>
        <p className="text-xs text-slate-600">{subtitle}</p>
      </figcaption>
      <div style={{ height: CHART_HEIGHT }} data-chart={title} role="img" aria-label={`${title}: ${summary}`}>
        {mounted ? (
          <ResponsiveContainer width="100%" height="100%">
            {children as React.ReactElement}
          </ResponsiveContainer>
        ) : (
          <div className="flex h-full items-center justify-center text-xs text-slate-600">Drawing chart…</div>
        )}
      </div>
    </figure>
  );
}

/** Log-axis bounds and ticks at powers of ten around the latencies present (a decade at least). */
function latencyAxis(points: SeriesPoint[]): { domain: [number, number]; ticks: number[] } {
  const values = points
    .flatMap((p) => [p.cacheP50Ms, p.cacheP99Ms, p.databaseP50Ms, p.databaseP99Ms])
    .filter((v): v is number => v !== null && v > 0);
  if (values.length === 0) return { domain: [0.1, 10], ticks: [0.1, 1, 10] };
  const low = Math.floor(Math.log10(Math.min(...values)));
  const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...values))));
  const ticks = Array.from({ length: high - low + 1 }, (_, i) => 10 ** (low + i));
  return { domain: [ticks[0], ticks[ticks.length - 1]], ticks };
}

/** Ticks every 5 % (10 % or 20 % on a taller axis) from the floor to 100 %. */
function rateTicks(floor: number): number[] {
  const step = 1 - floor <= 0.3 ? 0.05 : 1 - floor <= 0.6 ? 0.1 : 0.2;
  const ticks: number[] = [];
  for (let v = 1; v >= floor - 1e-9; v -= step) ticks.unshift(Math.round(v * 100) / 100);
  return ticks;
}

/** A hit-ratio point: hollow and amber when it rests on few lookups. */
function RateDot(props: { cx?: number; cy?: number; payload?: ChartPoint; index?: number }) {
  const { cx, cy, payload, index } = props;
  if (cx === undefined || cy === undefined || !payload || payload.hitRate === null) return <g key={`dot-${index}`} />;
  return payload.lowSample ? (
    <circle key={`dot-${index}`} cx={cx} cy={cy} r={4} fill="#fff" stroke={COLORS.undeployed} strokeWidth={2} data-low-sample="true" />
  ) : (
    <circle key={`dot-${index}`} cx={cx} cy={cy} r={2.5} fill={COLORS.rate} />
  );
}

function rateSummary(points: ChartPoint[]): string {
  const rates = points.filter((p) => p.hitRate !== null).map((p) => p.hitRate as number);
  if (rates.length === 0) return "no lookups in this window.";
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
  const low = points.filter((p) => p.lowSample).length;
  return `from ${pct(Math.min(...rates))} to ${pct(Math.max(...rates))} over ${rates.length} points${low ? `, ${low} of them on fewer than ${LOW_SAMPLE_LOOKUPS} lookups` : ""}.`;
}

function countsSummary(points: ChartPoint[]): string {
  const complete = points.filter((p) => !p.partial);
  const sum = (key: "hitsPerMinute" | "missesPerMinute" | "backfillsPerMinute") => complete.reduce((a, p) => a + (p[key] ?? 0), 0);
  const undeployed = complete.reduce((a, p) => a + (p.undeployedPerMinute ?? 0), 0);
  const n = Math.max(1, complete.length);
  return `per minute on average: ${(sum("hitsPerMinute") / n).toFixed(1)} hits, ${(sum("missesPerMinute") / n).toFixed(1)} misses, ${(sum("backfillsPerMinute") / n).toFixed(1)} back-fills, ${(undeployed / n).toFixed(1)} triggers for undeployed tasks.`;
}

export function CacheOverviewCharts({ points: series, stepMinutes, nowMs }: { points: SeriesPoint[]; stepMinutes: number; nowMs: number }) {
  const { points, partialSpan, hitRateFloor } = chartSeries(series, stepMinutes, nowMs);
  const latency = latencyAxis(series);
  const tick = (time: number) => utcTick(time, stepMinutes);
  const label = (t: unknown) => `${tick(Number(t))} UTC`;
  const dot = { r: 2.5 };
  const axis = { stroke: "#64748b", fontSize: 11 };
  const xAxis = <XAxis dataKey="time" type="number" domain={["dataMin", partialSpan ? partialSpan.to : "dataMax"]} tickFormatter={tick} {...axis} minTickGap={24} />;
  const shade = partialSpan ? <ReferenceArea x1={partialSpan.from} x2={partialSpan.to} fill={COLORS.partial} fillOpacity={0.7} ifOverflow="extendDomain" label={{ value: "now", fontSize: 10, fill: "#475569", position: "insideTop" }} /> : null;
  const spanNote = stepMinutes > 1 ? `each point sums ${stepMinutes} minutes` : "one point per minute";
  const common = { data: points, accessibilityLayer: false } as const;
  return (
    <div className="space-y-2">
      <p className="text-xs text-slate-600" data-testid="chart-notes">
        Times in UTC. The shaded span on the right is still running and is not plotted. Hollow amber points rest on fewer than {LOW_SAMPLE_LOOKUPS} lookups.
      </p>
      <div className="grid gap-4 lg:grid-cols-3">
        <ChartCard title="Hit ratio" subtitle={`Lookups served from the cache, ${spanNote}; bands at 95 % and 80 %`} summary={rateSummary(points)}>
          <LineChart {...common} margin={{ top: 5, right: 10, bottom: 0, left: -10 }}>
            <CartesianGrid stroke="#e2e8f0" vertical={false} />
            {xAxis}
            <YAxis domain={[hitRateFloor, 1]} ticks={rateTicks(hitRateFloor)} allowDataOverflow tickFormatter={(v: number) => `${Math.round(v * 100)}%`} {...axis} />
            <ReferenceLine y={HIT_RATE_BANDS.green} stroke="#15803d" strokeDasharray="3 3" label={{ value: "95 %", fontSize: 10, fill: "#15803d", position: "insideBottomLeft" }} />
            <ReferenceLine y={HIT_RATE_BANDS.amber} stroke="#b45309" strokeDasharray="3 3" label={{ value: "80 %", fontSize: 10, fill: "#b45309", position: "insideBottomLeft" }} />
            {shade}
            <Tooltip
              labelFormatter={label}
              formatter={(v, _name, item) => {
                const p = (item as { payload?: ChartPoint }).payload;
                if (typeof v !== "number") return "no lookups";
                return `${(v * 100).toFixed(1)} % of ${p?.lookups ?? 0} lookups${p?.lowSample ? " (few lookups)" : ""}`;
              }}
            />
            <Line type="linear" dataKey="hitRate" name="hit ratio" stroke={COLORS.rate} strokeWidth={2} dot={RateDot} isAnimationActive={false} />
          </LineChart>
        </ChartCard>
        <ChartCard title="Hits, misses, back-fills" subtitle={`Per minute, ${spanNote}; undeployed = triggers for tasks the current version lacks`} summary={countsSummary(points)}>
          <LineChart {...common} margin={{ top: 5, right: 10, bottom: 0, left: -10 }}>
            <CartesianGrid stroke="#e2e8f0" vertical={false} />
            {xAxis}
            <YAxis allowDecimals={false} {...axis} />
            {shade}
            <Tooltip labelFormatter={label} formatter={(v) => (typeof v === "number" ? v.toFixed(v % 1 ? 1 : 0) : "running")} />
            <Legend wrapperStyle={{ fontSize: 11 }} />
            <Line type="linear" dataKey="hitsPerMinute" name="hits" stroke={COLORS.hits} strokeWidth={2} dot={false} isAnimationActive={false} />
            <Line type="linear" dataKey="undeployedPerMinute" name="undeployed-task triggers" stroke={COLORS.undeployed} strokeWidth={2} dot={false} isAnimationActive={false} />
            {/* Back-fills follow misses almost one for one: dashed and drawn first, so the misses stay visible on top. */}
            <Line type="linear" dataKey="backfillsPerMinute" name="back-fills" stroke={COLORS.backfills} strokeWidth={1.5} strokeDasharray="5 4" dot={false} isAnimationActive={false} />
            <Line type="linear" dataKey="missesPerMinute" name="misses" stroke={COLORS.misses} strokeWidth={2.5} dot={dot} isAnimationActive={false} />
          </LineChart>
        </ChartCard>
        <ChartCard title="Resolver latency" subtitle={`p50 and p99, served from cache vs Postgres (log scale), ${spanNote}`} summary="cache and Postgres latency quantiles per point.">
          <LineChart {...common} margin={{ top: 5, right: 10, bottom: 0, left: 0 }}>
            <CartesianGrid stroke="#e2e8f0" vertical={false} />
            {xAxis}
            {/* Quantiles are positive or null (no lookups), so a log axis never has to place a zero. */}
            <YAxis scale="log" domain={latency.domain} ticks={latency.ticks} tickFormatter={formatMs} {...axis} />
            <Tooltip labelFormatter={label} formatter={(v) => (typeof v === "number" ? formatMs(v) : "—")} />
            <Legend wrapperStyle={{ fontSize: 11 }} />
            <Line type="linear" dataKey="cacheP50Ms" name="cache p50" stroke={COLORS.cache} strokeWidth={2} dot={dot} connectNulls isAnimationActive={false} />
            <Line type="linear" dataKey="cacheP99Ms" name="cache p99" stroke={COLORS.cache} strokeDasharray="4 3" dot={dot} connectNulls isAnimationActive={false} />
            <Line type="linear" dataKey="databaseP50Ms" name="Postgres p50" stroke={COLORS.database} strokeWidth={2} dot={dot} connectNulls isAnimationActive={false} />
            <Line type="linear" dataKey="databaseP99Ms" name="Postgres p99" stroke={COLORS.database} strokeDasharray="4 3" dot={dot} connectNulls isAnimationActive={false} />
          </LineChart>
        </ChartCard>
      </div>
    </div>
  );
}
