import type { ReactNode } from "react";
import { KindBadge } from "~/components/Badge";
import { CopyButton } from "~/components/CopyButton";
import { RelativeTime } from "~/components/RelativeTime";
import type { RunDetail } from "~/presenters/runDetail.server";

/** The sections of the run detail page: where its metadata came from, times, idempotency, data. */

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section aria-label={title} className="rounded-lg border border-slate-200 bg-white">
      <h2 className="border-b border-slate-200 px-4 py-2.5 text-sm font-semibold text-slate-900">{title}</h2>
      <div className="px-4 py-3">{children}</div>
    </section>
  );
}

function Fields({ rows }: { rows: [label: string, value: ReactNode][] }) {
  return (
    <dl className="grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-[12rem_1fr]">
      {rows.map(([label, value]) => (
        <div key={label} className="contents">
          <dt className="font-medium text-slate-600">{label}</dt>
          <dd className="min-w-0 break-words text-slate-900" data-field={label}>
            {value}
          </dd>
        </div>
      ))}
    </dl>
  );
}

const none = <span className="text-slate-500">—</span>;

function When({ iso, now }: { iso: string | null; now: string }) {
  return iso ? <RelativeTime iso={iso} now={now} /> : none;
}

function ResolvedVersionText({ run }: { run: RunDetail }) {
  const r = run.resolved;
  if (r.how === "locked") return <span className="font-mono">{r.version} (locked by the trigger)</span>;
  if (r.how === "none") return <span>no worker was current: the task waits for a deploy</span>;
  if (r.how === "current") return <span><span className="font-mono">{r.version}</span> — the current version, current since before this run</span>;
  return <span>a version before <span className="font-mono">{r.currentVersion}</span> (which became current after this run)</span>;
}

const SOURCE_TEXT = {
  cache: "the cache (Redis or the in-process tier)",
  database: "Postgres (a cache miss, or Redis unavailable)",
  unrecorded: "not recorded (the run is older than this field)",
} as const;

export function ResolutionSection({ run }: { run: RunDetail }) {
  return (
    <Section title="Queue and metadata">
      <Fields
        rows={[
          ["Queue", <span className="font-mono">{run.queue}</span>],
          ["Kind", <KindBadge kind={run.taskKind} />],
          ["TTL", run.ttl ? <span className="font-mono">{run.ttl}</span> : "none"],
          ["Locked version", run.resolved.how === "locked" ? <span className="font-mono">{run.resolved.version}</span> : "not locked"],
          ...(run.lockedQueueName ? ([["Locked queue", <span className="font-mono">{run.lockedQueueName}</span>]] as [string, ReactNode][]) : []),
          ["Resolved version", <ResolvedVersionText run={run} />],
          ["Metadata from", <span data-source={run.metadataSource}>{SOURCE_TEXT[run.metadataSource]}</span>],
        ]}
      />
    </Section>
  );
}

export function TimesSection({ run, now }: { run: RunDetail; now: string }) {
  return (
    <Section title="Times (UTC on hover)">
      <Fields
        rows={[
          ["Created", <When iso={run.createdAt} now={now} />],
          ["Delayed until", <When iso={run.delayUntil} now={now} />],
          ["Expires", run.expiresAt ? <When iso={run.expiresAt} now={now} /> : "never (no TTL)"],
          ...(run.expiredAt ? ([["Expired", <When iso={run.expiredAt} now={now} />]] as [string, ReactNode][]) : []),
          ...(run.canceledAt ? ([["Canceled", <When iso={run.canceledAt} now={now} />]] as [string, ReactNode][]) : []),
          ["Last change", <When iso={run.updatedAt} now={now} />],
        ]}
      />
    </Section>
  );
}

export function IdempotencySection({ run, now }: { run: RunDetail; now: string }) {
  const key = run.idempotency;
  return (
    <Section title="Idempotency">
      {key ? (
        <Fields
          rows={[
            [
              "Key",
              <span className="flex flex-wrap items-center gap-2">
                <span className="break-all font-mono">{key.key}</span>
                <CopyButton value={key.key} label="Copy idempotency key" />
              </span>,
            ],
            ["Key expires", <When iso={key.expiresAt} now={now} />],
            [
              "Reused",
              <span data-testid="idempotency-reuse">
                {key.reuseCount === 0
                  ? "no: no later trigger sent this key"
                  : `yes: ${key.reuseCount} later trigger${key.reuseCount === 1 ? "" : "s"} got this run back`}
                {key.lastReusedAt ? (
                  <>
                    {" "}(last <RelativeTime iso={key.lastReusedAt} now={now} />)
                  </>
                ) : null}
              </span>,
            ],
          ]}
        />
      ) : (
        <p className="text-sm text-slate-600">No idempotency key: every trigger like this one makes a new run.</p>
      )}
    </Section>
  );
}

export function JsonSection({ title, json, type }: { title: string; json: string | null; type: string }) {
  return (
    <Section title={title}>
      {json === null ? (
        <p className="text-sm text-slate-600">None.</p>
      ) : (
        <>
          <div className="mb-2 flex items-center justify-between gap-2 text-xs text-slate-600">
            <span className="font-mono">{type}</span>
            <CopyButton value={json} label={`Copy ${title.toLowerCase()}`} />
          </div>
          <pre tabIndex={0} aria-label={title} className="max-h-96 overflow-auto rounded bg-slate-50 p-3 font-mono text-xs text-slate-800">
            {json}
          </pre>
        </>
      )}
    </Section>
  );
}

export function TagsAndOptionsSection({ run }: { run: RunDetail }) {
  return (
    <Section title="Tags and options">
      <Fields
        rows={[
          [
            "Tags",
            run.tags.length === 0 ? (
              "none"
            ) : (
              <span className="flex flex-wrap gap-1">
                {run.tags.map((tag) => (
                  <span key={tag} className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-slate-700">
                    {tag}
                  </span>
                ))}
              </span>
            ),
          ],
          ...(run.batch
            ? ([["Batch", <span className="font-mono">{`${run.batch.friendlyId} (item ${run.batch.index ?? "?"})`}</span>]] as [string, ReactNode][])
            : []),
          ...run.options.map((o) => [o.label, <span className="break-all font-mono">{o.value}</span>] as [string, ReactNode]),
        ]}
      />
    </Section>
  );
}
