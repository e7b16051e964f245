import { type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { Badge, type BadgeTone } from "~/components/Badge";
import { EmptyState } from "~/components/EmptyState";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { Timestamp } from "~/components/Timestamp";
import { useSearchHref } from "~/components/useSearchHref";
import { httpError } from "~/httpError.server";
import { historyPage, type HistoryKind } from "~/presenters/history.server";
import { loadPageData } from "~/presenters/pageData.server";
import { requireAdminAction, requireUser } from "~/services/session.server";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: `History${data && data.kind !== "all" ? ` (${data.kind})` : ""} · Hotpath` },
];

const KINDS: Record<HistoryKind, string> = { all: "Everything", deployments: "Promotions and roll-backs", cache: "Cache repairs" };

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  const params = new URL(request.url).searchParams;
  const kindParam = params.get("kind") || "all";
  if (!(kindParam in KINDS)) throw httpError(400, `Query parameter 'kind' must be one of ${Object.keys(KINDS).join(", ")}.`);
  return await loadPageData("history", () => historyPage({ kind: kindParam as HistoryKind, before: params.get("before") }));
}

export async function action({ request }: ActionFunctionArgs) {
  await requireAdminAction(request);
  throw httpError(405, "The history only reads.");
}

export const ErrorBoundary = RouteErrorPanel;

const ACTOR_TONES: Record<string, BadgeTone> = { user: "indigo", "api-key": "sky", signature: "violet", sweep: "amber", system: "slate" };

export default function HistoryPage() {
  const { rows, kind, nextBefore } = useLoaderData<typeof loader>();
  const href = useSearchHref();
  return (
    <div className="space-y-6">
      <PageHeader
        title="History"
        description="Every promotion, roll-back and cache repair, newest first: who (a user, an API key, a webhook signature or the sweep), when, from → to, and how it arrived."
      />
      <nav aria-label="History filter" className="flex flex-wrap gap-2">
        {(Object.keys(KINDS) as HistoryKind[]).map((k) => (
          <Link
            key={k}
            to={href({ kind: k === "all" ? null : k, before: null })}
            aria-current={k === kind ? "page" : undefined}
            className={`rounded-md px-3 py-1.5 text-sm font-medium ${k === kind ? "bg-indigo-600 text-white" : "border border-slate-300 bg-white text-slate-700 hover:bg-slate-50"}`}
          >
            {KINDS[k]}
          </Link>
        ))}
      </nav>
      {rows.length === 0 ? (
        <EmptyState title="Nothing recorded yet">Promotions, roll-backs and cache repairs appear here as they happen.</EmptyState>
      ) : (
        <HistoryTable rows={rows} />
      )}
      {nextBefore ? (
        <Link to={href({ before: nextBefore })} className="inline-block text-sm font-medium text-indigo-600 hover:underline">
          Older entries →
        </Link>
      ) : null}
    </div>
  );
}

function HistoryTable({ rows }: { rows: ReturnType<typeof useLoaderData<typeof loader>>["rows"] }) {
  return (
  <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
    <table className="min-w-full divide-y divide-slate-200 text-sm" aria-label="History">
      <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
        <tr>
          <th className="px-3 py-2">When (UTC)</th>
          <th className="px-3 py-2">What</th>
          <th className="px-3 py-2">Environment</th>
          <th className="px-3 py-2">From → to</th>
          <th className="px-3 py-2">Who</th>
          <th className="px-3 py-2">How</th>
        </tr>
      </thead>
      <tbody className="divide-y divide-slate-100">
        {rows.map((row) => (
          <tr key={row.id} data-action={row.action} className="align-top">
            <td className="px-3 py-2 text-xs text-slate-600">
              <Timestamp iso={row.createdAt} />
            </td>
            <td className="px-3 py-2 font-medium text-slate-900">{row.what}</td>
            <td className="px-3 py-2">
              {row.environmentId && row.environmentLabel ? (
                <Link to={`/admin/environments/${row.environmentId}/cache`} className="text-indigo-700 hover:underline">
                  {row.environmentLabel}
                </Link>
              ) : (
                <span className="text-slate-500">{row.environmentId ?? "—"}</span>
              )}
            </td>
            <td className="px-3 py-2 font-mono text-xs" data-column="from-to">
              {row.from !== null || row.to !== null ? (
                <>
                  {row.from ?? "—"} → {row.to ?? "—"}
                </>
              ) : (
                "—"
              )}
            </td>
            <td className="px-3 py-2" data-column="who">
              <Badge tone={ACTOR_TONES[row.actorKind] ?? "slate"}>{row.who}</Badge>
            </td>
            <td className="px-3 py-2 text-slate-600" data-column="how">
              {row.how}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  </div>
  );
}
