import { Form } from "@remix-run/react";
import { useSlashToFocus } from "~/components/useSlashToFocus";

/** The GET form that filters a hash's fields by name (`?q=`); `/` focuses it. */
export function FieldFilterForm({ filter }: { filter: string }) {
  const searchRef = useSlashToFocus<HTMLInputElement>();
  return (
    <Form method="get" role="search" className="flex items-center gap-2">
      <input
        // Keyed by the URL's value: after Back or "Clear", the box shows what the URL says, not what was typed.
        key={filter}
        ref={searchRef}
        type="search"
        name="q"
        defaultValue={filter}
        placeholder="Filter fields  ( / )"
        aria-label="Filter fields"
        aria-keyshortcuts="/"
        className="w-56 rounded-md border border-slate-300 px-2.5 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30"
      />
      <button type="submit" className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50">
        Filter
      </button>
    </Form>
  );
}
