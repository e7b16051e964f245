import { Link } from "@remix-run/react";
import { Timestamp } from "~/components/Timestamp";
import type { AwaitingExternalId } from "~/presenters/awaitingDeployments.server";

/**
 * Runs pinned to an external deployment id that no deploy has registered yet: they are released
 * when it arrives, or expire at their deadline (docs/api.md "Version skew"). Nothing when none wait.
 */
export function AwaitingExternalIds({ environmentId, awaiting }: { environmentId: string; awaiting: AwaitingExternalId[] }) {
  if (awaiting.length === 0) return null;
  return (
    <div className="rounded-lg border border-amber-200 bg-amber-50/60 p-3 text-sm" data-testid="awaiting-external-ids">
      <h3 className="font-semibold text-amber-900">Runs waiting for an external deployment id</h3>
      <ul className="mt-1 space-y-1">
        {awaiting.map((a) => (
          <li key={a.externalDeploymentId} data-awaiting-id={a.externalDeploymentId}>
            <span className="font-mono text-xs text-slate-900">{a.externalDeploymentId}</span>:{" "}
            <Link
              className="text-indigo-700 hover:underline"
              to={`/admin/runs?${new URLSearchParams({ env: environmentId, status: "PENDING_VERSION", externalDeploymentId: a.externalDeploymentId })}`}
            >
              {a.runs} {a.runs === 1 ? "run" : "runs"}
            </Link>{" "}
            waiting since <Timestamp iso={a.oldestAt} />
            {a.firstDeadlineAt ? (
              <>
                , first expires <Timestamp iso={a.firstDeadlineAt} />
              </>
            ) : null}
          </li>
        ))}
      </ul>
    </div>
  );
}
