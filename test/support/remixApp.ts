import path from "node:path";
import { pathToFileURL } from "node:url";
import { createRequestHandler, type ServerBuild } from "@remix-run/node";

/**
 * Requests through Remix's own request handler over the compiled build (`remix build` runs before
 * the tests). The build reads its configuration lazily, so it sees this test file's database and
 * Redis prefix.
 */
let handler: ((request: Request) => Promise<Response>) | undefined;

export async function remixRequest(pathOrRequest: string | Request, init?: RequestInit): Promise<Response> {
  if (!handler) {
    const buildPath = path.resolve(import.meta.dirname, "../../build/index.js");
    const build = (await import(pathToFileURL(buildPath).href)) as ServerBuild;
    const handle = createRequestHandler(build, "production");
    // As server.ts passes it: the test's requests come from this machine.
    handler = (request) => handle(request, { clientAddress: "127.0.0.1" });
  }
  const request =
    typeof pathOrRequest === "string" ? new Request(new URL(pathOrRequest, "http://localhost"), init) : pathOrRequest;
  return handler(request);
}
