import { Badge, KindBadge } from "~/components/Badge";
import type { PromotionPreview } from "~/services/promotionPreview.server";

/**
 * What a promotion would change, shown in its confirmation before anything happens (the API's
 * `?dryRun=1` answers the same preview): tasks added, removed and changed, the PENDING_VERSION
 * runs it releases, and the last hour's triggers of the tasks it removes.
 */
export function PromotionDiff({ preview }: { preview: PromotionPreview }) {
  const { tasks, releasedRuns } = preview;
  const none = tasks.added.length + tasks.removed.length + tasks.changed.length === 0;
  return (
    <div className="mt-3 space-y-3" data-testid="promotion-diff">
      <p className="flex flex-wrap gap-2" data-testid="diff-counts">
        <Badge tone="emerald">{tasks.added.length} added</Badge>
        <Badge tone={tasks.removed.length ? "red" : "slate"}>{tasks.removed.length} removed</Badge>
        <Badge tone={tasks.changed.length ? "amber" : "slate"}>{tasks.changed.length} changed</Badge>
        <Badge>{tasks.unchanged} unchanged</Badge>
      </p>
      {none ? <p>Both versions have the same tasks with the same queues, TTLs and kinds.</p> : null}
      {tasks.removed.length ? <RemovedTasks preview={preview} /> : null}
      {tasks.added.length ? (
        <div>
          <h3 className="font-semibold text-slate-900">Added</h3>
          <SlugList testId="diff-added" slugs={tasks.added.map((t) => t.slug)} ring="ring-emerald-200" />
        </div>
      ) : null}
      {tasks.changed.length ? <ChangedTasks changed={tasks.changed} /> : null}
      <p data-testid="released-runs">
        {releasedRuns.total === 0
          ? "No PENDING_VERSION runs would be released."
          : `${releasedRuns.total.toLocaleString("en-US")} PENDING_VERSION run${releasedRuns.total === 1 ? "" : "s"} would be released (queued): ${releasedRuns.byTask
              .slice(0, 8)
              .map((t) => `${t.slug} (${t.runs})`)
              .join(", ")}${releasedRuns.byTask.length > 8 ? ", …" : ""}.`}
      </p>
    </div>
  );
}

function RemovedTasks({ preview }: { preview: PromotionPreview }) {
  const { tasks, removedTaskTriggers } = preview;
  return (
    <div>
      <h3 className="font-semibold text-red-800">
        Removed: {tasks.removed.length} task{tasks.removed.length === 1 ? "" : "s"} would wait for a deploy (PENDING_VERSION)
      </h3>
      <SlugList testId="diff-removed" slugs={tasks.removed.map((t) => t.slug)} ring="ring-red-200" />
      <p className="mt-1" data-testid="removed-triggers">
        {removedTaskTriggers.total === 0
          ? `None of them was triggered in the last ${removedTaskTriggers.windowMinutes} minutes.`
          : `Triggered ${removedTaskTriggers.total.toLocaleString("en-US")} times in the last ${removedTaskTriggers.windowMinutes} minutes: ${removedTaskTriggers.byTask
              .slice(0, 8)
              .map((t) => `${t.slug} (${t.triggers})`)
              .join(", ")}${removedTaskTriggers.byTask.length > 8 ? ", …" : ""}.`}
      </p>
    </div>
  );
}

function ChangedTasks({ changed }: { changed: PromotionPreview["tasks"]["changed"] }) {
  return (
    <div className="overflow-x-auto">
      <h3 className="font-semibold text-slate-900">Changed</h3>
      <table className="mt-1 min-w-full text-xs" aria-label="Changed tasks" data-testid="diff-changed">
        <thead className="text-left text-slate-600">
          <tr>
            <th className="py-1 pr-3 font-medium">Task</th>
            <th className="py-1 pr-3 font-medium">Field</th>
            <th className="py-1 pr-3 font-medium">Now</th>
            <th className="py-1 font-medium">After</th>
          </tr>
        </thead>
        <tbody>
          {changed.flatMap((t) =>
            t.changes.map((c) => (
              <tr key={`${t.slug}:${c.field}`} data-task={t.slug} data-field={c.field}>
                <td className="py-0.5 pr-3 font-mono">{t.slug}</td>
                <td className="py-0.5 pr-3">{c.field}</td>
                <td className="py-0.5 pr-3 font-mono">{c.field === "kind" && c.from ? <KindBadge kind={c.from} /> : (c.from ?? "none")}</td>
                <td className="py-0.5 font-mono">{c.field === "kind" && c.to ? <KindBadge kind={c.to} /> : (c.to ?? "none")}</td>
              </tr>
            )),
          )}
        </tbody>
      </table>
    </div>
  );
}

function SlugList({ slugs, ring, testId }: { slugs: string[]; ring: string; testId: string }) {
  return (
    <ul className="mt-1 flex flex-wrap gap-1.5" data-testid={testId}>
      {slugs.map((slug) => (
        <li key={slug} className={`rounded bg-white px-1.5 py-0.5 font-mono text-xs ring-1 ${ring}`}>
          {slug}
        </li>
      ))}
    </ul>
  );
}
