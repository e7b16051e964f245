import { isRouteErrorResponse, useRouteError } from "@remix-run/react";

/**
 * An admin page's error state, rendered inside the admin layout (export it as the page's
 * `ErrorBoundary` so the navigation stays). Thrown Responses show their own message (403 for a
 * VIEWER, 404, …); anything else is a bug or an outage and shows a generic message.
 */
export function RouteErrorPanel() {
  const error = useRouteError();
  const known = isRouteErrorResponse(error);
  const title = known ? `${error.status} ${error.statusText || "Error"}` : "Something went wrong";
  const detail = known
    ? typeof error.data === "string"
      ? error.data
      : "This page could not be shown."
    : "The server could not complete this request. It has been logged; try again shortly.";
  return (
    <div role="alert" className="rounded-lg border border-red-200 bg-red-50 px-6 py-5">
      <h1 className="text-sm font-semibold text-red-800">{title}</h1>
      <p className="mt-1 text-sm text-red-700">{detail}</p>
    </div>
  );
}
