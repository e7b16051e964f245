/**
 * The Response a loader or action throws to end a request with an error page: the route's error
 * boundary (app/components/RouteErrorPanel.tsx) shows "<status> <status text>" and the message.
 * Only for pages; the /api lane has its own JSON error shape (app/api/http.ts).
 */

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  // The one 503 the pages throw: say which dependency, not just "Service Unavailable".
  503: "Database unavailable",
};

export function httpError(status: number, message: string): Response {
  return new Response(message, { status, statusText: STATUS_TEXT[status] ?? "" });
}
