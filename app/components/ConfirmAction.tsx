import { Form, Link, useNavigation } from "@remix-run/react";
import type { ReactNode } from "react";

/**
 * The second step of a destructive admin action: says what will happen, names the exact Redis key
 * (or version) it acts on, and posts it back. The action checks the posted `confirmTarget` against
 * what it is about to touch, so a stale or edited confirmation cannot hit another key.
 */
export function ConfirmAction({
  title,
  target,
  children,
  intent,
  fields = {},
  submitLabel,
  cancelTo,
  danger = false,
}: {
  title: string;
  /** The key (or version) named on the page and posted back for the action to check. */
  target: string;
  children?: ReactNode;
  intent: string;
  fields?: Record<string, string>;
  submitLabel: string;
  cancelTo: string;
  danger?: boolean;
}) {
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  return (
    <section
      role="dialog"
      aria-modal="false"
      aria-labelledby="confirm-title"
      className={`rounded-lg border-2 px-5 py-4 ${danger ? "border-red-300 bg-red-50" : "border-indigo-300 bg-indigo-50"}`}
    >
      <h2 id="confirm-title" className="text-base font-semibold text-slate-900">
        {title}
      </h2>
      <p className="mt-2 text-sm text-slate-700">
        Target: <code data-testid="confirm-target" className="break-all rounded bg-white px-1.5 py-0.5 font-mono text-xs text-slate-900 ring-1 ring-slate-300">{target}</code>
      </p>
      {children ? <div className="mt-2 text-sm text-slate-700">{children}</div> : null}
      <Form method="post" className="mt-4 flex items-center gap-3">
        <input type="hidden" name="intent" value={intent} />
        <input type="hidden" name="confirmTarget" value={target} />
        {Object.entries(fields).map(([name, value]) => (
          <input key={name} type="hidden" name={name} value={value} />
        ))}
        <button
          type="submit"
          disabled={busy}
          className={`rounded-md px-3 py-1.5 text-sm font-semibold text-white shadow-sm disabled:opacity-60 ${
            danger ? "bg-red-600 hover:bg-red-500" : "bg-indigo-600 hover:bg-indigo-500"
          }`}
        >
          {busy ? "Working…" : submitLabel}
        </button>
        <Link to={cancelTo} preventScrollReset className="text-sm font-medium text-slate-600 hover:text-slate-900">
          Cancel
        </Link>
      </Form>
    </section>
  );
}
