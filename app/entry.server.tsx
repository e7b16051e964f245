import { PassThrough } from "node:stream";
import type { EntryContext } from "@remix-run/node";
import { createReadableStreamFromReadable } from "@remix-run/node";
import { RemixServer } from "@remix-run/react";
import { isbot } from "isbot";
import { renderToPipeableStream } from "react-dom/server";
import { logger } from "~/services/logger.server";
import { processMetricsSink } from "~/services/metrics.server";
import { setCacheEventSink } from "~/services/taskMetadata/index.server";

// This process's cache events feed GET /metrics and the overview's per-minute Redis buckets.
setCacheEventSink(processMetricsSink);

/**
 * What server.ts takes from the build (one module instance for both lanes: pools, caches,
 * counters): the lean /api lane, reached as `build.entry.module.handleApiRequest`, and the
 * process lifecycle (app/lifecycle.server.ts).
 */
export { handleApiRequest } from "~/api/node";
/** The page routes' body limit, run by server.ts before Remix. */
export { bufferedPageBody, limitPageBodies, refuseUnstorablePageInput } from "~/services/pageBody.server";
/** The production server's guard against request lines no route can serve, and its logger. */
export { requestLineProblem } from "~/domain/requestLine";
export { logger } from "~/services/logger.server";
export { start, shutdown } from "~/lifecycle.server";
export { runClusterPrimary, webConcurrency } from "~/services/webCluster.server";

/**
 * How long a streamed page waits for its deferred data (single fetch reads it from here, it
 * replaces RemixServer's abortDelay); the render itself is aborted a second later.
 */
export const streamTimeout = 5_000;

export default function handleRequest(
  request: Request,
  responseStatusCode: number,
  responseHeaders: Headers,
  remixContext: EntryContext,
) {
  // Crawlers get the whole document at once; browsers get the shell as soon as it is ready.
  const waitForAll = isbot(request.headers.get("user-agent") ?? "");
  return new Promise<Response>((resolve, reject) => {
    let shellRendered = false;
    const { pipe, abort } = renderToPipeableStream(
      <RemixServer context={remixContext} url={request.url} />,
      {
        [waitForAll ? "onAllReady" : "onShellReady"]() {
          shellRendered = true;
          const body = new PassThrough();
          responseHeaders.set("Content-Type", "text/html; charset=utf-8");
          resolve(
            new Response(createReadableStreamFromReadable(body), {
              headers: responseHeaders,
              status: responseStatusCode,
            }),
          );
          pipe(body);
        },
        onShellError(error: unknown) {
          reject(error);
        },
        onError(error: unknown) {
          responseStatusCode = 500;
          // Errors after the shell are streamed to the client's error boundary; log them once here.
          if (shellRendered) logger.error("render error after shell", { url: request.url, error });
        },
      },
    );
    setTimeout(abort, streamTimeout + 1_000).unref();
  });
}
