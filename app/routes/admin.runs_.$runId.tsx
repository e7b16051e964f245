import { type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { StatusBadge } from "~/components/Badge";
import { CopyButton } from "~/components/CopyButton";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { IdempotencySection, JsonSection, ResolutionSection, TagsAndOptionsSection, TimesSection } from "~/components/runs/RunDetailSections";
import { httpError } from "~/httpError.server";
import { loadPageData } from "~/presenters/pageData.server";
import { runDetail } from "~/presenters/runDetail.server";
import { requireUser } from "~/services/session.server";

export const meta: MetaFunction<typeof loader> = ({ data, params }) => [
  { title: `Run ${data?.run.friendlyId ?? params.runId ?? ""} (${data?.run.taskIdentifier ?? "not found"}) · Hotpath` },
];

const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

export async function loader({ request, params }: LoaderFunctionArgs) {
  await requireUser(request);
  const runId = params.runId ?? "";
  if (!RUN_ID.test(runId)) throw httpError(404, `No run with id '${runId.slice(0, 64)}'.`);
  const run = await loadPageData("run", () => runDetail(runId));
  if (!run) throw httpError(404, `No run with id '${runId}'. It may still be in the trigger buffer, or belong to a deleted environment.`);
  return { run, now: new Date().toISOString() };
}

export const ErrorBoundary = RouteErrorPanel;

export default function RunDetailPage() {
  const { run, now } = useLoaderData<typeof loader>();
  const backToList = `/admin/runs?${new URLSearchParams({ env: run.environment.id })}`;
  return (
    <div className="space-y-6">
      <nav aria-label="Breadcrumb" className="text-sm">
        <Link to={backToList} className="text-indigo-700 hover:underline">
          Runs of {run.environment.label}
        </Link>
      </nav>
      <header className="flex flex-wrap items-center gap-3 border-b border-slate-200 pb-5">
        <h1 className="break-all font-mono text-xl font-semibold text-slate-900">{run.friendlyId}</h1>
        <CopyButton value={run.friendlyId} label="Copy run id" />
        <StatusBadge status={run.status} />
        <p className="w-full text-sm text-slate-600">
          Task{" "}
          <Link
            to={`/admin/runs?${new URLSearchParams({ env: run.environment.id, task: run.taskIdentifier })}`}
            className="font-mono text-indigo-700 hover:underline"
          >
            {run.taskIdentifier}
          </Link>{" "}
          in {run.environment.label} ({run.environment.type.toLowerCase()})
        </p>
      </header>
      <div className="grid gap-6 xl:grid-cols-2">
        <ResolutionSection run={run} />
        <TimesSection run={run} now={now} />
        <IdempotencySection run={run} now={now} />
        <TagsAndOptionsSection run={run} />
      </div>
      <JsonSection title="Payload" json={run.payload} type={run.payloadType} />
      <JsonSection title="Metadata" json={run.metadata} type={run.metadataType} />
    </div>
  );
}
