import { readFileSync, readdirSync } from "node:fs";
import { once } from "node:events";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertUser } from "~/models/user.server";
import { startAppServer, type AppServer } from "../support/appServer";

/**
 * Issue 12, finding 1: every page route refuses a body over PAGE_BODY_LIMIT_BYTES with 413 before
 * Remix, route code, the login throttle or auth — from Content-Length and while streaming — so
 * large bodies cannot grow the server's memory or stall /healthz.
 */

const LIMIT = 65_536;
const ADMIN = { email: "body-admin@hotpath.test", password: "body admin password" };
let server: AppServer;

beforeAll(async () => {
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  server = await startAppServer();
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

interface Sent {
  /** The answer's status, or null when the connection closed without one. */
  status: number | null;
  response: string;
  /** Bytes of body written before the connection closed. */
  sent: number;
}

/**
 * POSTs `size` bytes of form body on a raw socket in 64 KiB pieces — chunked, or with a declared
 * Content-Length — reading the answer as it arrives (the server closes the connection after a
 * 413, so the client stops sending once it is closed).
 */
async function post(path: string, size: number, options: { declare?: boolean } = {}): Promise<Sent> {
  const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
  await once(socket, "connect");
  let response = "";
  let closed = false;
  socket.on("data", (d) => (response += d));
  socket.on("error", () => {}); // writing after the server closed: EPIPE / ECONNRESET, expected
  socket.on("close", () => (closed = true));
  const chunked = !options.declare;
  socket.write(
    [
      `POST ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${new URL(server.url).port}`,
      `Origin: ${server.url}`,
      "Content-Type: application/x-www-form-urlencoded",
      chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${size}`,
      "",
      "",
    ].join("\r\n"),
  );
  // With a declared length the answer may come before any body: give it the chance.
  const waitUntil = async (done: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };
  if (options.declare) await waitUntil(() => closed || response !== "", 2_000);
  const piece = Buffer.alloc(64 * 1024, "a");
  let sent = 0;
  while (sent < size && !closed && response === "") {
    const body = piece.subarray(0, Math.min(piece.length, size - sent));
    const ok = socket.write(chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n")]) : body);
    sent += body.length;
    // events.once rejects on the socket's "error" (EPIPE once the server closed): that ends the upload too.
    if (!ok) await Promise.race([once(socket, "drain"), once(socket, "close")]).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1));
  }
  if (!closed && response === "" && chunked) socket.write("0\r\n\r\n");
  await waitUntil(() => closed || /\r\n\r\n/.test(response), 10_000);
  socket.destroy();
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(response);
  return { status: status ? Number(status[1]) : null, response, sent };
}

/** The Node process tsx started for server.ts (tsx itself is the spawned child). */
function serverRssBytes(): number {
  const tsxPid = server.process.pid!;
  const children = readdirSync(`/proc/${tsxPid}/task`).flatMap((task) =>
    readFileSync(`/proc/${tsxPid}/task/${task}/children`, "utf8").trim().split(/\s+/).filter(Boolean),
  );
  const pid = children[0] ?? String(tsxPid);
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(rss![1]) * 1024;
}

describe("page bodies over PAGE_BODY_LIMIT_BYTES", () => {
  // Every route module with an action besides the API's (the 413 comes before the environment is looked up).
  const PAGE_ACTIONS = ["/login", "/logout", "/admin?index", "/admin/deployments", "/admin/environments?index", "/admin/environments/any/cache"];

  it("a declared Content-Length over the limit is a 413 on login, logout and admin actions, before auth", async () => {
    for (const path of PAGE_ACTIONS) {
      const refused = await post(path, LIMIT + 1, { declare: true });
      expect(refused.status, path).toBe(413);
      expect(refused.response, path).toContain(`limit of ${LIMIT} bytes`);
      expect(refused.sent, path).toBe(0);
    }
  });

  it("a chunked body is refused with 413 as soon as it passes the limit", async () => {
    for (const path of ["/login", "/admin/deployments"]) {
      const refused = await post(path, 4 * 1024 * 1024);
      // The 413, or a reset that overtook it while the client was still writing (see the parallel test).
      if (refused.status !== null) expect(refused.status, path).toBe(413);
      // Answered soon after the limit was passed, not after reading the whole body.
      expect(refused.sent, path).toBeLessThan(LIMIT + 32 * 64 * 1024);
    }
  });

  it("a body within the limit still reaches the route (login works)", async () => {
    const response = await fetch(`${server.url}/login`, {
      method: "POST",
      body: new URLSearchParams(ADMIN),
      headers: { Origin: server.url },
      redirect: "manual",
    });
    expect(response.status).toBe(302);
    expect(response.headers.get("set-cookie")).toMatch(/__hotpath_session=/);
  });

  it("the login form refuses an over-long email or password (422 naming it)", async () => {
    const long = await fetch(`${server.url}/login`, {
      method: "POST",
      body: new URLSearchParams({ email: `${"a".repeat(300)}@x.y`, password: "p".repeat(2000) }),
      headers: { Origin: server.url },
      redirect: "manual",
    });
    expect(long.status).toBe(422);
    expect(await long.text()).toContain("longer than 254 characters");
  });

  // 20 MiB each proves the bound quickly; PAGE_BODY_MEASURE_MIB=200 gives the full-size figures.
  const MIB = Number(process.env.PAGE_BODY_MEASURE_MIB ?? 20);
  it(`4 × ${MIB} MiB login bodies in parallel: RSS stays within 50 MiB, /healthz answers within 100 ms throughout`, async () => {
    // Warm up, so that the baseline already includes what the first requests load.
    for (let i = 0; i < 3; i++) await post("/login", 1024 * 1024);
    await fetch(`${server.url}/healthz`);
    const before = serverRssBytes();
    let peak = before;
    let slowest = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const started = performance.now();
        const health = await fetch(`${server.url}/healthz`);
        await health.arrayBuffer();
        slowest = Math.max(slowest, performance.now() - started);
        peak = Math.max(peak, serverRssBytes());
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    let results: Sent[];
    try {
      results = await Promise.all(Array.from({ length: 4 }, () => post("/login", MIB * 1024 * 1024)));
    } finally {
      // Stop probing even when an upload failed, so no probe outlives the test (and its server).
      probing = false;
      await probe;
    }
    const after = serverRssBytes();
    const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
    console.log(`[page bodies] 4 × ${MIB} MiB (sent before the server closed: ${results.map((r) => mib(r.sent)).join(", ")} MiB): RSS before ${mib(before)} MiB, peak ${mib(peak)} MiB, after ${mib(after)} MiB; slowest /healthz ${slowest.toFixed(1)} ms`);
    expect(peak - before, `peak RSS ${peak} vs before ${before}`).toBeLessThan(50 * 1024 * 1024);
    expect(after - before, `RSS after ${after} vs before ${before}`).toBeLessThan(50 * 1024 * 1024);
    expect(slowest, "slowest /healthz (ms)").toBeLessThan(100);
    for (const r of results) {
      // The server answers 413 and closes; a client still writing may see the reset before it can
      // read that answer (the kernel drops it). Either way the upload was cut off early.
      expect(r.sent, "bytes the server let through").toBeLessThan(MIB * 1024 * 1024);
      if (r.status !== null) expect(r.status).toBe(413);
    }
  }, 120_000);
});
