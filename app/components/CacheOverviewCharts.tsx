import { type ReactNode, useEffect, useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { SeriesPoint } from "~/domain/metricsMath";

/**
 * The overview's charts, drawn with recharts. They render in the browser only: recharts measures
 * its container, which the server cannot do, and drawing after hydration keeps the server HTML and
 * the first client render identical (times are also formatted in the viewer's own time zone).
 */

const CHART_HEIGHT = 220;
const COLORS = {
  hits: "#16a34a",
  misses: "#dc2626",
  backfills: "#7c3aed",
  rate: "#4f46e5",
  cache: "#0891b2",
  database: "#ea580c",
};

function useMounted(): boolean {
  const [mounted, setMounted] = useState(false);
  useEffect(() => setMounted(true), []);
  return mounted;
}

function formatTime(time: number, stepMinutes: number): string {
  const date = new Date(time);
  return stepMinutes >= 15
    ? date.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" })
    : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function formatMs(value: number): string {
  if (value < 1) return `${Math.round(value * 1000)} µs`;
  return value < 10 ? `${Number(value.toFixed(1))} ms` : `${Math.round(value)} ms`;
}

function ChartCard({ title, subtitle, children }: { title: string; subtitle: string; children: ReactNode }) {
  const mounted = useMounted();
  return (
    <figure className="rounded-lg border border-slate-200 bg-white p-4">
      <figcaption className="mb-3">
        <p className="text-sm font-semibold text-slate-900">{title}</p>
        <p className="text-xs text-slate-500">{subtitle}</p>
      </figcaption>
      <div style={{ height: CHART_HEIGHT }} data-chart={title}>
        {mounted ? (
          <ResponsiveContainer width="100%" height="100%">
            {children as React.ReactElement}
          </ResponsiveContainer>
        ) : (
          <div className="flex h-full items-center justify-center text-xs text-slate-400">Drawing chart…</div>
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

export function CacheOverviewCharts({ points, stepMinutes }: { points: SeriesPoint[]; stepMinutes: number }) {
  const latency = latencyAxis(points);
  const tick = (time: number) => formatTime(time, stepMinutes);
  // A line needs two neighbouring points; dots keep a lone busy minute visible.
  const dot = { r: 2.5 };
  const axis = { stroke: "#94a3b8", fontSize: 11 };
  const spanNote = stepMinutes > 1 ? `each point averages ${stepMinutes} minutes` : "one point per minute";
  return (
    <div className="grid gap-4 lg:grid-cols-3">
      <ChartCard title="Hit ratio" subtitle={`Lookups served from the cache, ${spanNote}`}>
        <LineChart data={points} margin={{ top: 5, right: 10, bottom: 0, left: -10 }}>
          <CartesianGrid stroke="#e2e8f0" vertical={false} />
          <XAxis dataKey="time" tickFormatter={tick} {...axis} minTickGap={24} />
          <YAxis domain={[0, 1]} tickFormatter={(v: number) => `${Math.round(v * 100)}%`} {...axis} />
          <Tooltip
            labelFormatter={(t) => tick(Number(t))}
            formatter={(v) => (typeof v === "number" ? `${(v * 100).toFixed(1)} %` : "no lookups")}
          />
          <Line type="linear" dataKey="hitRate" name="hit ratio" stroke={COLORS.rate} strokeWidth={2} dot={dot} isAnimationActive={false} />
        </LineChart>
      </ChartCard>
      <ChartCard title="Hits, misses, back-fills" subtitle={`Per minute (the running minute scaled to a whole one), ${spanNote}`}>
        <LineChart data={points} margin={{ top: 5, right: 10, bottom: 0, left: -10 }}>
          <CartesianGrid stroke="#e2e8f0" vertical={false} />
          <XAxis dataKey="time" tickFormatter={tick} {...axis} minTickGap={24} />
          <YAxis allowDecimals={false} {...axis} />
          <Tooltip labelFormatter={(t) => tick(Number(t))} formatter={(v) => (typeof v === "number" ? v.toFixed(v % 1 ? 1 : 0) : v)} />
          <Legend wrapperStyle={{ fontSize: 11 }} />
          <Line type="linear" dataKey="hitsPerMinute" name="hits" stroke={COLORS.hits} strokeWidth={2} dot={false} isAnimationActive={false} />
          <Line type="linear" dataKey="missesPerMinute" name="misses" stroke={COLORS.misses} strokeWidth={2} dot={false} isAnimationActive={false} />
          <Line type="linear" dataKey="backfillsPerMinute" name="back-fills" stroke={COLORS.backfills} strokeWidth={2} dot={false} isAnimationActive={false} />
        </LineChart>
      </ChartCard>
      <ChartCard title="Resolver latency" subtitle={`p50 and p99, served from cache vs Postgres (log scale), ${spanNote}`}>
        <LineChart data={points} margin={{ top: 5, right: 10, bottom: 0, left: 0 }}>
          <CartesianGrid stroke="#e2e8f0" vertical={false} />
          <XAxis dataKey="time" tickFormatter={tick} {...axis} minTickGap={24} />
          {/* Quantiles are positive or null (no lookups), so a log axis never has to place a zero. */}
          <YAxis scale="log" domain={latency.domain} ticks={latency.ticks} tickFormatter={formatMs} {...axis} />
          <Tooltip labelFormatter={(t) => tick(Number(t))} formatter={(v) => (typeof v === "number" ? formatMs(v) : "—")} />
          <Legend wrapperStyle={{ fontSize: 11 }} />
          <Line type="linear" dataKey="cacheP50Ms" name="cache p50" stroke={COLORS.cache} strokeWidth={2} dot={dot} connectNulls isAnimationActive={false} />
          <Line type="linear" dataKey="cacheP99Ms" name="cache p99" stroke={COLORS.cache} strokeDasharray="4 3" dot={dot} connectNulls isAnimationActive={false} />
          <Line type="linear" dataKey="databaseP50Ms" name="Postgres p50" stroke={COLORS.database} strokeWidth={2} dot={dot} connectNulls isAnimationActive={false} />
          <Line type="linear" dataKey="databaseP99Ms" name="Postgres p99" stroke={COLORS.database} strokeDasharray="4 3" dot={dot} connectNulls isAnimationActive={false} />
        </LineChart>
      </ChartCard>
    </div>
  );
}
