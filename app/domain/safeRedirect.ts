/**
 * Where to send a user after login: only a path on this site. Anything that a browser could read
 * as another origin (`https://…`, `//evil`, `/\evil`, control characters) falls back to the
 * default, so `?redirectTo=` can never be used as an open redirect.
 */
export function safeRedirect(target: unknown, fallback = "/admin"): string {
  if (typeof target !== "string" || !target.startsWith("/") || target.startsWith("//")) return fallback;
  // Browsers treat "\" as "/" and drop tabs/newlines inside URLs: "/\evil.example" is "//evil.example".
  if (/[\\\u0000-\u001f\u007f]/.test(target)) return fallback;
  const base = "http://hotpath.invalid";
  let url: URL;
  try {
    url = new URL(target, base);
  } catch {
    return fallback;
  }
  if (url.origin !== base) return fallback;
  return `${url.pathname}${url.search}${url.hash}`;
}
