/**
 * Request lines the page server cannot turn into a URL (issue 12, finding 7): an absolute-form
 * target (`GET http://host/healthz`), the asterisk form (`OPTIONS *`), or a Host (or
 * X-Forwarded-Host) that is not a host name. The production server answers them 400 before any
 * routing; the reason is logged, never sent back.
 */

// A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port.
const HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Why this request cannot be served, or null. `forwardedHost` is the first X-Forwarded-Host value, if any. */
export function requestLineProblem(target: string | undefined, host: string | undefined, forwardedHost?: string): string | null {
  if (target === undefined || !target.startsWith("/") || target.startsWith("//")) return "request target is not a path";
  if (host !== undefined && !HOST.test(host)) return "Host header is not a host name";
  if (forwardedHost !== undefined && !HOST.test(forwardedHost)) return "X-Forwarded-Host header is not a host name";
  return null;
}
