import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BodyCollector, type ApiRequest, type ApiResponse } from "~/api/http";
import { handleApi } from "~/api/router";
import { startAppServer, type AppServer } from "../support/appServer";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * Fuzzing the batch routes, the NDJSON item stream above all: broken lines, huge lines, wrong and
 * duplicate indices, more items than declared, bad options, NUL escapes, CRLF, chunks split
 * anywhere (in-process, through a request whose body arrives in random pieces) — and a sample over
 * real HTTP to the built server. Every answer is below 500, JSON, and a 4xx is `{ error, details? }`.
 */

const LINE_LIMIT = 4096;
Object.assign(process.env, { BATCH_ITEM_LINE_LIMIT_BYTES: String(LINE_LIMIT), BATCH_MAX_ITEMS: "50" });

const RUNS = Number(process.env.FUZZ_BATCH_RUNS ?? 400);
const HTTP_RUNS = 60;
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

let project: TestProject;
let server: AppServer;

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "v1", tasks: [{ slug: "email", queue: { name: "emails" } }, { slug: "report" }] });
  server = await startAppServer({ BATCH_ITEM_LINE_LIMIT_BYTES: String(LINE_LIMIT), BATCH_MAX_ITEMS: "50" });
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

/** An in-process request whose body arrives in the given pieces. */
function request(method: string, path: string, body: Buffer, pieces: number[]): ApiRequest {
  const chunks: Buffer[] = [];
  let at = 0;
  for (const size of pieces) {
    if (at >= body.length) break;
    chunks.push(body.subarray(at, at + size));
    at += size;
  }
  if (at < body.length) chunks.push(body.subarray(at));
  return {
    method,
    path,
    target: path,
    query: () => new URLSearchParams(),
    header: (name) => ({ authorization: `Bearer ${project.prod.apiKey}`, "content-type": "application/x-ndjson" })[name],
    body: async (limit) => {
      const collector = new BodyCollector(limit);
      for (const chunk of chunks) collector.add(chunk);
      return collector.result();
    },
    chunks: async function* () {
      yield* chunks;
    },
  };
}

/** Statuses seen, so a run that never reached the insert shows up (logged, and checked below). */
const tally = new Map<string, number>();

function check(response: ApiResponse, context: unknown) {
  tally.set(String(response.status), (tally.get(String(response.status)) ?? 0) + 1);
  if (response.status >= 500) throw new Error(`5xx for ${JSON.stringify(context).slice(0, 2000)}: ${response.body}`);
  const body = JSON.parse(response.body);
  if (response.status >= 400) {
    expect(typeof body.error).toBe("string");
    expect(Object.keys(body).every((k) => k === "error" || k === "details")).toBe(true);
  }
  return body;
}

const index = fc.oneof({ weight: 8, arbitrary: fc.nat({ max: 10 }) }, fc.integer({ min: -5, max: 100 }), fc.constant(1.5), fc.constant("3"), fc.constant(null), fc.constant(2 ** 53));
const task = fc.oneof(fc.constantFrom("email", "report", "not-deployed", "", "a/b", "x".repeat(200)), fc.string());
const options = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  fc.record(
    {
      ttl: fc.oneof(fc.constantFrom("1h", "soon", "-1s", ""), fc.integer()),
      queue: fc.oneof(fc.string(), fc.record({ name: fc.string() })),
      lockToVersion: fc.constantFrom("v1", "v9", ""),
      idempotencyKey: fc.oneof(fc.string(), fc.constant("k".repeat(3000))),
      idempotencyKeyTTL: fc.constantFrom("1h", "never", "0s"),
      delay: fc.oneof(fc.constantFrom("1m", "tomorrow", "2030-01-01T00:00:00Z"), fc.integer()),
      tags: fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 12 })),
      machine: fc.constantFrom("small-1x", "huge"),
      priority: fc.oneof(fc.integer(), fc.double()),
      concurrencyKey: fc.oneof(fc.string(), fc.integer()),
    },
    { requiredKeys: [] },
  ),
);
const validish = fc.record({ index, task: fc.oneof({ weight: 6, arbitrary: fc.constantFrom("email", "report") }, task), payload: fc.jsonValue({ maxDepth: 3 }), options }).map((item) => JSON.stringify(item));
const line = fc.oneof(
  { weight: 30, arbitrary: validish },
  { weight: 1, arbitrary: fc.string() },
  { weight: 1, arbitrary: fc.constantFrom("{not json", "[]", "null", "42", '{"index":0,"task":"email","payload":"\\u0000"}', '{"__proto__":{"x":1},"index":0,"task":"email"}', "\r") },
  { weight: 1, arbitrary: fc.nat({ max: LINE_LIMIT * 3 }).map((n) => JSON.stringify({ index: 0, task: "email", payload: "y".repeat(n) })) },
);
const body = fc.array(line, { maxLength: 60 }).chain((lines) =>
  fc.record({ text: fc.constant(lines.join("\n")), crlf: fc.boolean(), pieces: fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 40 }) }),
);
const runCount = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 50 }) }, fc.constantFrom(0, -1, 51, 1.5));

async function createBatch(count: unknown): Promise<string | null> {
  const raw = Buffer.from(JSON.stringify({ runCount: count }));
  const response = await handleApi(request("POST", "/api/v3/batches", raw, []));
  const created = check(response, { runCount: count });
  return response.status === 200 ? created.id : null;
}

describe("the NDJSON item stream, fuzzed", () => {
  it(`in-process: ${RUNS} streams, 0 × 5xx (seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(runCount, body, async (count, { text, crlf, pieces }) => {
        const id = await createBatch(count);
        if (!id) return;
        const raw = Buffer.from(crlf ? text.replaceAll("\n", "\r\n") : text);
        const streamed = await handleApi(request("POST", `/api/v3/batches/${id}/items`, raw, pieces));
        check(streamed, { count, text: text.slice(0, 500) });
        tally.set(`items ${streamed.status}`, (tally.get(`items ${streamed.status}`) ?? 0) + 1);
        check(await handleApi(request("GET", `/api/v2/batches/${id}`, Buffer.alloc(0), [])), { id });
      }),
      { numRuns: RUNS, seed: SEED },
    );
    console.log("batch fuzz statuses", Object.fromEntries(tally));
    expect(tally.get("items 200") ?? 0).toBeGreaterThan(RUNS / 20);
    expect(tally.get("items 400") ?? 0).toBeGreaterThan(RUNS / 20);
  }, 600_000);

  it(`in-process: the one-body batch (/api/v2/tasks/batch), 0 × 5xx (seed ${SEED})`, async () => {
    const items = fc.array(fc.record({ task, payload: fc.jsonValue({ maxDepth: 2 }), options }, { requiredKeys: ["task"] }), { maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(items, async (list) => {
        const raw = Buffer.from(JSON.stringify({ items: list }));
        check(await handleApi(request("POST", "/api/v2/tasks/batch", raw, [])), { items: list.length });
      }),
      { numRuns: Math.ceil(RUNS / 4), seed: SEED },
    );
  }, 600_000);

  it(`over HTTP to the built server: ${HTTP_RUNS} streams, 0 × 5xx`, async () => {
    const auth = { authorization: `Bearer ${project.prod.apiKey}` };
    await fc.assert(
      fc.asyncProperty(runCount, body, async (count, { text }) => {
        const created = await fetch(`${server.url}/api/v3/batches`, { method: "POST", headers: auth, body: JSON.stringify({ runCount: count }) });
        expect(created.status).toBeLessThan(500);
        if (created.status !== 200) return;
        const { id } = (await created.json()) as { id: string };
        const response = await fetch(`${server.url}/api/v3/batches/${id}/items`, { method: "POST", headers: { ...auth, "content-type": "application/x-ndjson" }, body: text });
        const answer = await response.text();
        if (response.status >= 500) throw new Error(`5xx: ${answer}`);
        JSON.parse(answer);
      }),
      { numRuns: HTTP_RUNS, seed: SEED },
    );
  }, 600_000);
});
