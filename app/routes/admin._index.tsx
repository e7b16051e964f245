import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData, useNavigation, useRevalidator } from "@remix-run/react";
import { type ReactNode, useEffect, useState } from "react";
import { CacheOverviewCharts } from "~/components/CacheOverviewCharts";
import { EmptyState } from "~/components/EmptyState";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { hitRateTone, METRICS_WINDOWS, type MetricsWindow, parseWindow } from "~/domain/metricsMath";
import { formatBytes } from "~/domain/redisInfo";
import { getCacheOverview } from "~/presenters/cacheOverview.server";
import { loadPageData } from "~/presenters/pageData.server";
import { requireAdminAction, requireUser } from "~/services/session.server";
import { httpError } from "~/httpError.server";

export const meta: MetaFunction = () => [{ title: "Cache overview · Hotpath" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  const window = parseWindow(new URL(request.url).searchParams.get("window"));
  const overview = await loadPageData("cache overview", () => getCacheOverview(window));
  return data(overview, { headers: { "Cache-Control": "no-store" } });
}

// The overview only reads. Its action is guarded like every admin action, so a forged POST without
// a session or from a VIEWER is refused before being told there is nothing to do here.
export async function action({ request }: ActionFunctionArgs) {
  await requireAdminAction(request);
  throw httpError(405, "The cache overview has no actions.");
}

export const ErrorBoundary = RouteErrorPanel;

const AUTO_REFRESH_MS = 10_000;
const WINDOWS = Object.entries(METRICS_WINDOWS) as [MetricsWindow, (typeof METRICS_WINDOWS)[MetricsWindow]][];

const count = (n: number) => Math.round(n).toLocaleString("en-US");
const percent = (rate: number | null) => (rate === null ? "—" : `${(rate * 100).toFixed(1)} %`);
const perSecond = (n: number) => (n >= 100 ? count(n) : n.toFixed(n >= 10 ? 1 : 2));

const TONE_CLASSES = {
  good: "border-emerald-200 bg-emerald-50 text-emerald-700",
  warn: "border-amber-200 bg-amber-50 text-amber-700",
  bad: "border-red-200 bg-red-50 text-red-700",
  none: "border-slate-200 bg-white text-slate-400",
} as const;

function Tile({ label, value, hint, className = "border-slate-200 bg-white text-slate-900" }: {
  label: string;
  value: ReactNode;
  hint: string;
  className?: string;
}) {
  return (
    <div className={`rounded-lg border px-4 py-3 ${className}`} data-testid={`tile-${label.toLowerCase().replace(/[^a-z]+/g, "-")}`}>
      <p className="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</p>
      <p className="mt-1 text-2xl font-semibold tabular-nums">{value}</p>
      <p className="mt-0.5 text-xs text-slate-500">{hint}</p>
    </div>
  );
}

function Section({ title, description, children }: { title: string; description?: string; children: ReactNode }) {
  return (
    <section className="space-y-3">
      <div>
        <h2 className="text-base font-semibold text-slate-900">{title}</h2>
        {description ? <p className="text-sm text-slate-500">{description}</p> : null}
      </div>
      {children}
    </section>
  );
}

function RateBadge({ rate }: { rate: number | null }) {
  return (
    <span className={`inline-block rounded border px-1.5 py-0.5 text-xs font-semibold tabular-nums ${TONE_CLASSES[hitRateTone(rate)]}`}>
      {rate === null ? "no lookups" : percent(rate)}
    </span>
  );
}

function RefreshControls() {
  const revalidator = useRevalidator();
  const navigation = useNavigation();
  const [auto, setAuto] = useState(false);
  const busy = revalidator.state !== "idle" || navigation.state !== "idle";

  useEffect(() => {
    if (!auto) return;
    const timer = setInterval(() => {
      // Skip a tick rather than queue reloads behind a slow one.
      if (revalidator.state === "idle" && document.visibilityState === "visible") revalidator.revalidate();
    }, AUTO_REFRESH_MS);
    return () => clearInterval(timer);
  }, [auto, revalidator]);

  return (
    <div className="flex items-center gap-3">
      <label className="flex items-center gap-1.5 text-sm text-slate-600">
        <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} className="h-4 w-4 rounded border-slate-300" />
        Auto-refresh ({AUTO_REFRESH_MS / 1000} s)
      </label>
      <button
        type="button"
        onClick={() => revalidator.revalidate()}
        disabled={busy}
        className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-60"
      >
        {busy ? "Refreshing…" : "Refresh"}
      </button>
    </div>
  );
}

function WindowChooser({ current }: { current: MetricsWindow }) {
  return (
    <nav aria-label="Window" className="inline-flex rounded-md border border-slate-300 bg-white p-0.5">
      {WINDOWS.map(([value, { label }]) => (
        <Link
          key={value}
          to={`?window=${value}`}
          preventScrollReset
          aria-current={value === current ? "page" : undefined}
          className={`rounded px-3 py-1 text-sm font-medium ${
            value === current ? "bg-indigo-600 text-white" : "text-slate-600 hover:bg-slate-100"
          }`}
        >
          {label}
        </Link>
      ))}
    </nav>
  );
}

export default function OverviewPage() {
  const overview = useLoaderData<typeof loader>();
  const { summary, redisServer } = overview;
  const windowLabel = METRICS_WINDOWS[overview.window].label;
  const noTraffic = summary !== null && summary.lookups === 0 && overview.keyspaces.every((k) => k.hits + k.misses + k.negativeHits === 0);
  const updated = new Date(overview.generatedAt).toISOString().slice(11, 19);

  return (
    <div className="space-y-8">
      <PageHeader
        title="Cache overview"
        description={
          <>
            How well the task metadata cache serves the trigger hot path, summed over every app instance. Last{" "}
            {windowLabel}, read at {updated} UTC.
          </>
        }
        actions={
          <>
            <WindowChooser current={overview.window} />
            <RefreshControls />
          </>
        }
      />

      {overview.problems.length ? (
        <div role="alert" className="rounded-lg border border-amber-300 bg-amber-50 px-5 py-4">
          <p className="text-sm font-semibold text-amber-900">Redis is not answering — some figures are missing</p>
          <ul className="mt-1 list-disc pl-5 text-sm text-amber-800">
            {overview.problems.map((p) => (
              <li key={p.message}>{p.message}</li>
            ))}
          </ul>
          <p className="mt-2 text-sm text-amber-800">
            Triggers keep working (the cache fails open to Postgres). GET /healthz says which dependency is down.
          </p>
        </div>
      ) : null}

      {summary ? (
        <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6">
          <Tile
            label="Hit rate"
            value={percent(summary.hitRate)}
            hint={summary.hitRate === null ? "no lookups yet" : "≥ 95 % green · ≥ 80 % amber"}
            className={TONE_CLASSES[hitRateTone(summary.hitRate)]}
          />
          <Tile label="Hits" value={count(summary.hits)} hint={`lookups served from cache (${count(summary.negativeHits)} negative)`} />
          <Tile label="Misses" value={count(summary.misses)} hint="lookups that went to Postgres" />
          <Tile label="Back-fills" value={count(summary.backfills)} hint="entries written after a miss" />
          <Tile
            label="Errors"
            value={count(summary.errors)}
            hint={`${count(summary.decodeErrors)} decode · ${count(summary.redisErrors)} Redis · ${count(summary.breakerOpens)} breaker opens`}
            className={summary.errors ? "border-red-200 bg-red-50 text-red-700" : undefined}
          />
          <Tile label="Ops/s" value={perSecond(summary.opsPerSecond)} hint={`lookups per second over ${windowLabel}`} />
        </div>
      ) : null}

      {noTraffic ? (
        <EmptyState title={`No cache traffic in the last ${windowLabel} yet`}>
          Trigger a task (<code className="rounded bg-slate-100 px-1">POST /api/v1/tasks/&lt;task&gt;/trigger</code> with an
          environment&apos;s secret key) and the figures appear within a few seconds: each app instance writes its counters to
          Redis every few seconds. Or pick a longer window.
        </EmptyState>
      ) : summary ? (
        <>
          <CacheOverviewCharts points={overview.series} stepMinutes={overview.stepMinutes} />
          <Section title="By keyspace" description="Raw cache events. One lookup can touch several keyspaces (the in-process tier, then Redis), so the hit rate above counts lookups instead.">
            <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
              <table className="min-w-full text-sm">
                <thead className="bg-slate-50 text-left text-xs uppercase tracking-wide text-slate-500">
                  <tr>
                    {["Keyspace", "Hits", "Negative hits", "Misses", "Hit rate", "Back-fills", "Decode errors", "Redis errors"].map((h) => (
                      <th key={h} className="px-3 py-2 font-medium">
                        {h}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100 tabular-nums">
                  {overview.keyspaces.map((k) => (
                    <tr key={k.keyspace}>
                      <td className="px-3 py-2 font-mono text-xs">{k.keyspace === "l1" ? "l1 (in-process)" : k.keyspace}</td>
                      <td className="px-3 py-2">{count(k.hits)}</td>
                      <td className="px-3 py-2">{count(k.negativeHits)}</td>
                      <td className="px-3 py-2">{count(k.misses)}</td>
                      <td className="px-3 py-2">{percent(k.hitRate)}</td>
                      <td className="px-3 py-2">{count(k.backfills)}</td>
                      <td className="px-3 py-2">{count(k.decodeErrors)}</td>
                      <td className="px-3 py-2">{count(k.redisErrors)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Section>
        </>
      ) : null}

      <Section
        title="Environments"
        description={`Lowest hit rate first over the last ${windowLabel}; the current hash as Redis holds it now.`}
      >
        {overview.environments.length === 0 ? (
          <EmptyState title="No environments yet">
            Run <code className="rounded bg-slate-100 px-1">npm run db:seed</code> (or the quickstart) to create a demo project with dev,
            staging and prod environments.
          </EmptyState>
        ) : (
          <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
            <table className="min-w-full text-sm" data-testid="environments-table">
              <thead className="bg-slate-50 text-left text-xs uppercase tracking-wide text-slate-500">
                <tr>
                  {["Environment", "Hit rate", "Lookups", "Current key", "Fields", "TTL", "Owner version"].map((h) => (
                    <th key={h} className="px-3 py-2 font-medium">
                      {h}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {overview.environments.map((e) => (
                  <tr key={e.id}>
                    <td className="px-3 py-2">
                      <Link to={`/admin/environments/${e.id}/cache`} className="font-medium text-indigo-700 hover:underline">
                        {e.slug}
                      </Link>
                      <span className="ml-2 text-xs text-slate-500" title={e.projectName}>
                        {e.projectSlug} · {e.type.toLowerCase()}
                      </span>
                    </td>
                    <td className="px-3 py-2">
                      <RateBadge rate={e.hitRate} />
                    </td>
                    <td className="px-3 py-2 tabular-nums">{count(e.lookups)}</td>
                    {e.current ? (
                      <>
                        <td className="px-3 py-2">
                          {e.current.present ? (
                            <span className="text-emerald-700">present</span>
                          ) : (
                            <span className="text-slate-500">absent</span>
                          )}
                        </td>
                        <td className="px-3 py-2 tabular-nums">{count(e.current.fieldCount)}</td>
                        <td className="px-3 py-2" title={e.current.ttl.title}>
                          {e.current.present ? e.current.ttl.label : "—"}
                        </td>
                        <td className="px-3 py-2 font-mono text-xs">
                          {e.current.ownerVersion ??
                            (e.current.ownerWorkerId ? (
                              <span className="text-red-700" title={`Worker ${e.current.ownerWorkerId} is not in Postgres`}>
                                unknown worker
                              </span>
                            ) : (
                              <span className="text-slate-400">none</span>
                            ))}
                        </td>
                      </>
                    ) : (
                      <td colSpan={4} className="px-3 py-2 text-xs text-slate-400">
                        Redis unavailable
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
            {overview.environmentCount > overview.environments.length ? (
              <p className="border-t border-slate-100 px-3 py-2 text-xs text-slate-500">
                Showing the {overview.environments.length} lowest of {overview.environmentCount} environments.
              </p>
            ) : null}
          </div>
        )}
      </Section>

      <Section title="Cache Redis server" description="From INFO on the cache's Redis (summed over the masters of a cluster).">
        {redisServer ? (
          <div className="grid grid-cols-2 gap-3 md:grid-cols-4" data-testid="redis-server">
            <Tile
              label="Memory used / max"
              value={
                <>
                  {formatBytes(redisServer.usedMemoryBytes)}{" "}
                  <span className="text-base font-normal text-slate-500">
                    / {redisServer.maxMemoryBytes ? formatBytes(redisServer.maxMemoryBytes) : "no limit"}
                  </span>
                </>
              }
              hint={`eviction policy ${redisServer.maxMemoryPolicy ?? "unknown"}`}
            />
            <Tile
              label="Evicted keys"
              value={count(redisServer.evictedKeys)}
              hint="since the server started"
              className={redisServer.evictedKeys ? "border-amber-200 bg-amber-50 text-amber-700" : undefined}
            />
            <Tile label="Expired keys" value={count(redisServer.expiredKeys)} hint="since the server started" />
            <Tile
              label="Connected clients"
              value={count(redisServer.connectedClients)}
              hint={`Redis ${redisServer.version ?? "?"}${redisServer.nodes > 1 ? ` · ${redisServer.nodes} masters` : ""}`}
            />
          </div>
        ) : (
          <EmptyState title="Redis server figures unavailable">The cache&apos;s Redis did not answer INFO; see the notice above.</EmptyState>
        )}
      </Section>
    </div>
  );
}
