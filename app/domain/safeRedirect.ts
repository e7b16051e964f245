/**
 * Where to send a user after login: only a path on this site. Anything that a browser could read
 * as another origin (`https://…`, `//evil`, `/\evil`, control characters) falls back to the
 * default, so `?redirectTo=` can never be used as an open redirect. The check is made on the
 * target as given *and* on the normalised path that is returned: dot segments and their encodings
 * (`/.//evil`, `/a/..//evil`, `/%2e//evil`) normalise to `//evil`, which a browser reads as a host.
 */
export function safeRedirect(target: unknown, fallback = "/admin"): string {
  if (typeof target !== "string" || !isSameSitePath(target)) return fallback;
  const base = "http://hotpath.invalid";
  let url: URL;
  try {
    url = new URL(target, base);
  } catch {
    return fallback;
  }
  if (url.origin !== base) return fallback;
  const result = `${url.pathname}${url.search}${url.hash}`;
  return isSameSitePath(result) ? result : fallback;
}

/** A path a browser resolves against this site: one leading "/", no "\" (read as "/"), no control characters. */
function isSameSitePath(path: string): boolean {
  if (!path.startsWith("/") || path.startsWith("//")) return false;
  // Browsers treat "\" as "/" and drop tabs/newlines inside URLs: "/\evil.example" is "//evil.example".
  return !/[\\\u0000-\u001f\u007f]/.test(path);
}
