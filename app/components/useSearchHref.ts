import { useLocation } from "@remix-run/react";

/**
 * Builds links to the current page with some query parameters changed and the others kept, so a
 * filter, a scan cursor and an open confirmation survive each other's links. A null or empty value
 * removes the parameter.
 */
export function useSearchHref() {
  const location = useLocation();
  return (changes: Record<string, string | null>) => {
    const params = new URLSearchParams(location.search);
    for (const [name, value] of Object.entries(changes)) {
      if (value === null || value === "") params.delete(name);
      else params.set(name, value);
    }
    return params.size ? `${location.pathname}?${params}` : location.pathname;
  };
}
