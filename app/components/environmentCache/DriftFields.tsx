import { Link } from "@remix-run/react";
import { CacheFieldsTable } from "~/components/CacheFieldsTable";
import { EmptyState } from "~/components/EmptyState";
import { Timestamp } from "~/components/Timestamp";
import { describeDrift } from "~/domain/driftRecord";
import type { CacheDrift } from "~/presenters/drift.server";
import type { FieldRow } from "~/presenters/environmentCache.server";
import type { SearchHref } from "./types";

/**
 * "N fields drift" over the cache page's field list — counted over the whole hash, not only the
 * page on screen — with the switch to show only those fields, and what the sweep last found.
 */
export function DriftBanner({ drift, driftOnly, href }: { drift: CacheDrift; driftOnly: boolean; href: SearchHref }) {
  const count = drift.rows.length;
  const record = drift.record;
  const sweep = record ? (
    <>
      The sweep last checked at <Timestamp iso={record.checkedAt} /> UTC
      {record.seenAt ? (
        <>
          ; it last saw drift ({describeDrift({ fields: record.seenFields, ownerMismatch: record.seenOwnerMismatch })}) at <Timestamp iso={record.seenAt} />
          {record.repaired && record.seenAt === record.checkedAt ? ", and repaired it" : ""}
        </>
      ) : null}
      .
    </>
  ) : (
    "The sweep has not checked this environment yet."
  );
  const toggle = (
    <Link
      to={href({ drift: driftOnly ? null : "1", cursor: null })}
      aria-pressed={driftOnly}
      role="button"
      className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-50"
    >
      {driftOnly ? "Show all fields" : "Show only drifting fields"}
    </Link>
  );
  return (
    <div
      role={count ? "alert" : "status"}
      data-testid="drift-banner"
      className={`flex flex-wrap items-center justify-between gap-3 rounded-lg border px-5 py-3 ${count ? "border-red-300 bg-red-50" : "border-emerald-200 bg-emerald-50"}`}
    >
      <div>
        <p className={`text-sm font-semibold ${count ? "text-red-900" : "text-emerald-900"}`}>
          {count ? `${count} field${count === 1 ? "" : "s"} drift from Postgres` : "No field drifts from Postgres"}
        </p>
        <p className="text-xs text-slate-700">{sweep}</p>
      </div>
      {count || driftOnly ? toggle : null}
    </div>
  );
}

/** The drift-only view of the current hash: every drifting field, however far apart they sit in the hash. */
export function DriftOnlyFields({ rows, isAdmin, href }: { rows: FieldRow[]; isAdmin: boolean; href: SearchHref }) {
  return (
    <section className="space-y-3">
      <div>
        <h2 className="text-base font-semibold text-slate-900">Drifting fields</h2>
        <p className="text-sm text-slate-600">Only the fields whose cached value disagrees with Postgres&apos; current worker.</p>
      </div>
      {rows.length === 0 ? (
        <EmptyState title="No field drifts">
          <Link to={href({ drift: null })} className="text-indigo-700 hover:underline">
            Show all fields
          </Link>
        </EmptyState>
      ) : (
        <CacheFieldsTable rows={rows} label="Drifting fields" deleteHref={isAdmin ? (field) => href({ confirm: "delete-field", field }) : undefined} />
      )}
    </section>
  );
}
