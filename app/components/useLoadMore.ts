import { useState } from "react";

interface Step<T> {
  cursor: string;
  nextCursor: string;
  items: T[];
}

/**
 * "Load more" over a cursor-paged Redis SCAN/HSCAN. Each step's cursor is in the URL (the link
 * works without JavaScript and can be shared); when the browser follows "load more" from the
 * previous step, the new items are appended to those already shown instead of replacing them.
 * A change of `scope` (the filter) starts over. `fromStart` says whether the list begins at the
 * first step, so the page can offer "start over" otherwise.
 */
export function useLoadMore<T>(step: Step<T>, scope: string, id: (item: T) => string) {
  const [state, setState] = useState({ scope, step, items: step.items, fromStart: step.cursor === "0" });
  if (state.step.items === step.items) return state;

  const append = state.scope === scope && step.cursor !== "0" && step.cursor === state.step.nextCursor;
  // SCAN may return an item twice (the table was resized between steps); show it once.
  const seen = new Set(append ? state.items.map(id) : []);
  const next = append
    ? { scope, step, items: [...state.items, ...step.items.filter((item) => !seen.has(id(item)))], fromStart: state.fromStart }
    : { scope, step, items: step.items, fromStart: step.cursor === "0" };
  setState(next);
  return next;
}
