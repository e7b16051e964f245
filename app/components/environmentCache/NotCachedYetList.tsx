import type { NotCachedYet } from "~/presenters/environmentCache.server";

/** Tasks of the current worker that have no field in the hash yet (not drift: a trigger back-fills each). */
export function NotCachedYetList({ notCachedYet }: { notCachedYet: NotCachedYet | null }) {
  if (!notCachedYet || notCachedYet.total === 0) return null;
  const hidden = notCachedYet.total - notCachedYet.slugs.length;
  return (
    <section className="space-y-2" aria-label="Not cached yet">
      <h2 className="text-base font-semibold text-slate-900">
        Not cached yet <span className="font-normal text-slate-500">({notCachedYet.total})</span>
      </h2>
      <p className="text-sm text-slate-500">Tasks of the current worker with no field in the hash. Not drift: the first trigger of each back-fills it.</p>
      <ul className="flex flex-wrap gap-1.5">
        {notCachedYet.slugs.map((slug) => (
          <li key={slug} className="rounded bg-slate-100 px-2 py-0.5 font-mono text-xs text-slate-700">
            {slug}
          </li>
        ))}
        {hidden > 0 ? <li className="px-2 py-0.5 text-xs text-slate-500">and {hidden} more</li> : null}
      </ul>
    </section>
  );
}
