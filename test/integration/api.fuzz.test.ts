import { once } from "node:events";
import { readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BodyCollector, checkDeclaredLength, type ApiRequest } from "~/api/http";
import { handleApi } from "~/api/router";
import { prisma } from "~/db.server";
import { generateApiKey } from "~/domain/apiKeys";
import { upsertUser } from "~/models/user.server";
import { rotateApiKey } from "~/services/credentials.server";
import { signatureHeader } from "~/services/webhookSignature.server";
import { startAppServer, type AppServer } from "../support/appServer";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";
import { remixRequest } from "../support/remixApp";

/**
 * Property-based fuzzing of the trigger, deploy and promote routes and the runs API (docs/api.md: "Never a 500 for
 * anything a client sent"). Bodies are built as JSON *text*, so they can carry what JSON.stringify
 * never writes: `__proto__` keys, duplicate keys, NUL and lone-surrogate escapes, numbers that
 * overflow, nesting hundreds of thousands deep; next to them sit valid-looking bodies with one
 * field bent, so that cases reach the resolver, the run insert and the deploy transaction, not only
 * the schema. Headers (Authorization variants, Idempotency-Key, content type, signatures — some
 * correctly signed) and path parameters (unicode, encoded slashes, broken escapes, very long) are
 * fuzzed with them.
 *
 * Every answer must be below 500, JSON, and — for a 4xx — exactly `{"error": string, "details"?}`.
 * No built-in prototype may gain a property. Most cases run in-process on the shared router (the
 * code both lanes run; fast); a sample goes over real HTTP to the production server's lean lane,
 * which is checked for prototype pollution by a probe preloaded into it.
 *
 * The page routes (login, logout, every admin page and action, as anonymous, VIEWER and ADMIN) and
 * odd request lines (absolute-form targets, `OPTIONS *`, bad Host headers) are fuzzed and probed
 * over HTTP too: 0 × 5xx, and no answer ever carries a stack trace (issue 12).
 */

const IN_PROCESS_RUNS = {
  trigger: Number(process.env.FUZZ_TRIGGER_RUNS ?? 5_000),
  deploy: Number(process.env.FUZZ_DEPLOY_RUNS ?? 2_500),
  promote: Number(process.env.FUZZ_PROMOTE_RUNS ?? 2_500),
  runs: Number(process.env.FUZZ_RUNS_API_RUNS ?? 3_000),
};
const HTTP_RUNS = 300; // per route
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

let project: TestProject;
let revokedKey: string;
let otherProject: TestProject;
let server: AppServer;
const probeFile = path.join(tmpdir(), `hotpath-prototype-probe-${process.pid}-${Date.now()}.jsonl`);

beforeAll(async () => {
  project = await createTestProject();
  otherProject = await createTestProject();
  await registerAndPromote({
    environmentId: project.prod.id,
    version: "v1",
    tasks: [
      { slug: "email", queue: { name: "emails", concurrencyLimit: 5 }, ttl: "5m" },
      { slug: "report", queue: { name: "reports" }, ttl: 3600, triggerSource: "SCHEDULED" },
      { slug: "agent", triggerSource: "AGENT" },
    ],
  });
  await registerAndPromote({ environmentId: project.prod.id, version: "v2", tasks: [{ slug: "email", queue: { name: "emails-v2" } }], promote: false });
  for (const [friendlyId, status] of [["run_fuzzdelayed0000000000000", "DELAYED"], ["run_fuzzqueued00000000000000", "QUEUED"]] as const) {
    await prisma().taskRun.create({
      data: { friendlyId, environmentId: project.prod.id, taskIdentifier: "email", queue: "emails", status, delayUntil: status === "DELAYED" ? new Date(Date.now() + 3_600_000) : null, idempotencyKey: `fuzz-${status === "DELAYED" ? 1 : 2}` },
    });
  }
  revokedKey = otherProject.prod.apiKey;
  await rotateApiKey(otherProject.prod.id);
  server = await startAppServer({
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --import=${pathToFileURL(path.resolve(import.meta.dirname, "../support/prototypeProbe.mjs")).href}`.trim(),
    HOTPATH_PROTOTYPE_PROBE_FILE: probeFile,
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(probeFile, { force: true });
});

/* ─────────────────────────────── arbitraries ─────────────────────────────── */

const str = (s: string) => JSON.stringify(s);
const obj = (entries: readonly (readonly [string, string])[]) => `{${entries.map(([k, v]) => `${str(k)}:${v}`).join(",")}}`;
const arr = (items: readonly string[]) => `[${items.join(",")}]`;

/** Any UTF-16 code unit — NUL, controls, lone surrogates — plus astral characters and troublemakers. */
const anyChar = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  fc.constantFrom("\u0000", "\ud800", "\udfff", "/", "%", "\\", '"', "\n", "\u202e", "\ufeff", "{", "$"),
);

const hostileString = fc.oneof(
  { weight: 12, arbitrary: fc.string({ unit: anyChar, maxLength: 40 }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "",
      " ",
      "__proto__",
      "constructor",
      "prototype",
      "toString",
      "run_abc",
      "../../etc/passwd",
      "%2e%2e%2f",
      "' OR 1=1 --",
      "${jndi:ldap://x}",
      "<script>alert(1)</script>",
      "5m",
      "1h30m",
      "0",
      "-1",
      "1e309",
      "NaN",
      "2d",
      "9".repeat(400),
      "2026-01-01T00:00:00Z",
      "0000-00-00",
      "v1",
      "v2",
      "email",
      "prod",
      "dev",
      "a\u0000b",
      "\ud83d",
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 200_000 }).map((n) => "x".repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 40_000 }).map((n) => "🚀é\u0301".repeat(n)) },
);

const dangerousKey = fc.constantFrom("__proto__", "constructor", "prototype", "__defineGetter__", "hasOwnProperty", "toJSON", "valueOf", "polluted");
const hostileKey = fc.oneof({ weight: 2, arbitrary: dangerousKey }, { weight: 3, arbitrary: hostileString.filter((s) => s.length < 1_000) });

const numberText = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.constantFrom("1e999", "-1e999", "1E-400", "-0", "9007199254740993", "0.1", "123456789012345678901234567890"),
);

const scalarText = fc.oneof(fc.constantFrom("null", "true", "false"), numberText, hostileString.map(str));

/** Arbitrary JSON text, keys included (`__proto__` and friends weighted in). */
const { json: jsonText } = fc.letrec<{ json: string; array: string; object: string }>((tie) => ({
  json: fc.oneof({ depthSize: "small", maxDepth: 4 }, scalarText, tie("array"), tie("object")),
  array: fc.array(tie("json"), { maxLength: 5 }).map(arr),
  object: fc.array(fc.tuple(hostileKey, tie("json")), { maxLength: 5 }).map(obj),
}));

/** Nesting far deeper than any real payload (JSON.parse copes; JSON.stringify and Postgres do not). */
const deepText = fc
  .tuple(fc.integer({ min: 50, max: 200_000 }), fc.constantFrom("array", "object"))
  .map(([depth, kind]) => (kind === "array" ? "[".repeat(depth) + "1" + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth)));

const pollutionText = fc.constantFrom(
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"payload":{"__proto__":{"polluted":"yes"}},"options":{"__proto__":{"polluted":"yes","idempotencyKey":"p"}}}',
  '{"options":{"metadata":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}}}',
  '{"options":{"tags":{"__proto__":["x"]},"queue":{"__proto__":{"name":"q"}}}}',
  '{"__proto__":[],"options":{"__proto__":null}}',
  '{"version":"v-proto","tasks":[{"slug":"a","__proto__":{"polluted":"yes"}}],"__proto__":{"polluted":"yes"}}',
  '{"environment":"prod","__proto__":{"environment":"dev","polluted":"yes"}}',
  '{"tasks":{"__proto__":[]},"version":{"__proto__":"v1"}}',
);

const invalidJsonText = fc.oneof(
  fc.constantFrom("{", "[", '{"a":}', "nul", "'single'", '{"a":1,}', "\u0000", "{}x", "[1,,2]", '{"a" 1}', "NaN", "undefined", "{a:1}", "\ufeff{}", '"\\ud800'),
  fc.string({ unit: anyChar, minLength: 1, maxLength: 60 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }),
);

/** An object whose fields are mostly valid for the route, some bent, plus hostile extra keys. */
function fieldsText(fields: Record<string, fc.Arbitrary<string>>) {
  const names = Object.keys(fields);
  const field = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...names).chain((name) => fc.tuple(fc.constant(name), fc.oneof({ weight: 4, arbitrary: fields[name] }, { weight: 1, arbitrary: jsonText }))) },
    { weight: 1, arbitrary: fc.tuple(hostileKey, jsonText) },
  );
  return fc.array(field, { maxLength: names.length + 2 }).map(obj);
}

const rarelyHuge = (inner: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 40, arbitrary: inner }, { weight: 1, arbitrary: fc.constant(str("x".repeat(1_100_000))) }, { weight: 1, arbitrary: deepText });

const triggerOptions = fieldsText({
  queue: fc.oneof(fc.constantFrom("emails", "custom/queue", "").map(str), hostileString.map((s) => obj([["name", str(s)]]))),
  ttl: fc.oneof(fc.constantFrom('"5m"', '"1h30m"', "0", "30", '"0"', '"2d"', "-5", "1e12"), hostileString.map(str)),
  lockToVersion: fc.oneof(fc.constantFrom("v1", "v2", "v404").map(str), hostileString.map(str)),
  idempotencyKey: fc.oneof(fc.integer({ min: 0, max: 20 }).map((n) => str(`fuzz-${n}`)), hostileString.map(str)),
  delay: fc.oneof(fc.constantFrom('"30s"', "0", "5", '"2020-01-01T00:00:00Z"', '"2099-01-01T00:00:00Z"', '"9999-99-99"'), hostileString.map(str)),
  tags: fc.oneof(fc.array(hostileString.map(str), { maxLength: 12 }).map(arr), hostileString.map(str)),
  metadata: fc.oneof(jsonText, fc.constant('{"a":1}')),
  concurrencyKey: fc.oneof(fc.constantFrom('"user-1"', "42", "1e999", "-0", "1.5"), hostileString.map(str)),
  idempotencyKeyTTL: fc.oneof(fc.constantFrom('"1h"', '"0"', '"30d"', "60", '"2w"'), hostileString.map(str)),
  metadataType: fc.oneof(fc.constantFrom("application/json", "application/super+json", "text/plain").map(str), hostileString.map(str)),
  payloadType: fc.oneof(fc.constantFrom("application/json", "application/super+json", "application/store").map(str), hostileString.map(str)),
  maxAttempts: fc.oneof(fc.constantFrom("0", "1", "3", "1000", "1001", "1.5", "-1", "1e400"), numberText),
  maxDuration: fc.oneof(fc.constantFrom("0", "90", "90.5", "2000001", "-1", "1e400"), numberText),
  machine: fc.oneof(fc.constantFrom("micro", "small-1x", "large-2x", "huge").map(str), hostileString.map(str)),
  priority: fc.oneof(fc.constantFrom("0", "1.5", "2000000", "2000001", "-1", "1e400"), numberText),
  region: fc.oneof(fc.constantFrom("eu-central-1", "").map(str), hostileString.map(str)),
  test: fc.constantFrom("true", "false", '"true"', "1", "null"),
});

const triggerBody = fc.oneof(
  { weight: 8, arbitrary: fieldsText({ payload: rarelyHuge(jsonText), options: triggerOptions }) },
  { weight: 2, arbitrary: jsonText },
  { weight: 1, arbitrary: deepText.map((deep) => obj([["payload", deep]])) },
  { weight: 1, arbitrary: deepText.map((deep) => obj([["options", obj([["metadata", obj([["m", deep]])]])]])) },
  { weight: 1, arbitrary: pollutionText },
  { weight: 1, arbitrary: invalidJsonText },
  { weight: 1, arbitrary: fc.constant("") },
);

const taskSpec = fieldsText({
  slug: fc.oneof(fc.integer({ min: 0, max: 5 }).map((n) => str(`task-${n}`)), hostileString.map(str)),
  queue: fc.oneof(
    fc.tuple(fc.constantFrom("q1", "q2", "emails"), fc.constantFrom("null", "1", "0", "-1", "1.5", '"5"')).map(([name, limit]) => obj([["name", str(name)], ["concurrencyLimit", limit]])),
    hostileString.map((s) => obj([["name", str(s)]])),
    fc.constant("null"),
  ),
  ttl: fc.oneof(fc.constantFrom('"5m"', "60", "0", '"1h"', "null"), hostileString.map(str)),
  triggerSource: fc.oneof(fc.constantFrom("STANDARD", "SCHEDULED", "AGENT").map(str), hostileString.map(str)),
});

/** Well-formed deploys (some re-sent, some new versions), so that cases reach registerWorker and promotion. */
const wellFormedDeploy = fc
  .record({
    version: fc.constantFrom("v1", "v2", "v3", "v4").chain((v) => fc.oneof(fc.constant(v), fc.integer({ min: 0, max: 200 }).map((n) => `${v}.${n}`))),
    tasks: fc.uniqueArray(
      fc.record({
        slug: fc.integer({ min: 0, max: 6 }).map((n) => `task-${n}`),
        queue: fc.option(fc.record({ name: fc.constantFrom("q1", "q2", "emails"), concurrencyLimit: fc.option(fc.nat(20)) })),
        ttl: fc.option(fc.constantFrom("5m", 60, "1h30m")),
        triggerSource: fc.constantFrom("STANDARD", "SCHEDULED", "AGENT"),
      }),
      { selector: (t) => t.slug, maxLength: 4 },
    ),
    promote: fc.boolean(),
  })
  .map((body) => JSON.stringify(body));

const deployBody = fc.oneof(
  { weight: 3, arbitrary: wellFormedDeploy },
  {
    weight: 8,
    arbitrary: fieldsText({
      environment: fc.oneof(fc.constantFrom("prod", "dev", "staging").map(str), hostileString.map(str)),
      project: fc.oneof(fc.constant("PROJECT"), hostileString.map(str)),
      version: fc.oneof(fc.constantFrom("v1", "v2", "v3", "v4", "2026.1").map(str), hostileString.map(str)),
      contentHash: fc.oneof(fc.constantFrom('"abc"', "null"), hostileString.map(str)),
      tasks: fc.oneof({ weight: 5, arbitrary: fc.array(taskSpec, { maxLength: 4 }).map(arr) }, { weight: 1, arbitrary: jsonText }),
      promote: fc.constantFrom("true", "false", '"true"', "1", "null"),
    }),
  },
  { weight: 2, arbitrary: jsonText },
  { weight: 1, arbitrary: deepText.map((deep) => obj([["version", str("v-deep")], ["tasks", arr([])], ["extra", deep]])) },
  { weight: 1, arbitrary: pollutionText },
  { weight: 1, arbitrary: invalidJsonText },
  { weight: 1, arbitrary: fc.constant("") },
);

const promoteBody = fc.oneof(
  { weight: 6, arbitrary: fieldsText({ environment: fc.oneof(fc.constantFrom("prod", "dev").map(str), hostileString.map(str)), project: hostileString.map(str) }) },
  { weight: 2, arbitrary: jsonText },
  { weight: 1, arbitrary: pollutionText },
  { weight: 1, arbitrary: invalidJsonText },
  { weight: 2, arbitrary: fc.constant("") },
);

/** A path segment: mostly a plausible value, else anything — encoded, half-encoded or raw. */
function pathSegment(plausible: string[]) {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...plausible) },
    { weight: 4, arbitrary: hostileString.filter((s) => s.length <= 4_000).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "?"))) },
    {
      weight: 2,
      arbitrary: fc.constantFrom("a%2Fb", "%2F", "%", "%E0%A4%A", "%00", "..", ".", "%2e%2e", "a%20b", "%F0%9F%9A%80", "x".repeat(3_000), "%C0%AF", "%ED%A0%80", "é", "a b", "a?b=c", "a#b", ";x"),
    },
  );
}

/** Header values an HTTP client can send (latin-1, no control characters but tab). */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength: 80 });

type Credential = "prod" | "dev" | "none" | "revoked" | "unknown" | "other-project" | { raw: string };
const credential: fc.Arbitrary<Credential> = fc.oneof(
  { weight: 10, arbitrary: fc.constant<Credential>("prod") },
  { weight: 2, arbitrary: fc.constantFrom<Credential>("dev", "none", "revoked", "unknown", "other-project") },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom("", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer tr_prod_short", "Token abc", "Bearer " + "A".repeat(5_000), "Bearer tr_prod_" + "A".repeat(129)),
      headerText,
      headerText.map((t) => `Bearer ${t}`),
    ).map((raw): Credential => ({ raw })),
  },
  { weight: 1, arbitrary: fc.constantFrom<Credential>({ raw: "bearer PROD" }, { raw: "BEARER   PROD  " }, { raw: "Bearer PROD extra" }, { raw: "PROD" }) },
);

interface HeaderSpec {
  credential: Credential;
  contentType: string | null;
  idempotencyKey: string | null;
  idempotencyKeyTTL: string | null;
  traceparent: string | null;
  signature: "none" | "valid" | "stale" | { raw: string };
}

const headerSpec: fc.Arbitrary<HeaderSpec> = fc.record({
  credential,
  contentType: fc.oneof(
    { weight: 6, arbitrary: fc.constant("application/json") },
    { weight: 2, arbitrary: fc.constantFrom(null, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "multipart/form-data; boundary=x") },
    { weight: 1, arbitrary: headerText },
  ),
  idempotencyKey: fc.oneof(
    { weight: 6, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 20 }).map((n) => `fuzz-${n}`) },
    { weight: 2, arbitrary: headerText },
    { weight: 1, arbitrary: fc.integer({ min: 500, max: 3_000 }).map((n) => "k".repeat(n)) },
  ),
  idempotencyKeyTTL: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: fc.constantFrom("1h", "0", "soon") }, { weight: 1, arbitrary: headerText }),
  traceparent: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: headerText }, { weight: 1, arbitrary: fc.constant("x".repeat(2_000)) }),
  signature: fc.oneof(
    { weight: 8, arbitrary: fc.constant<HeaderSpec["signature"]>("none") },
    { weight: 2, arbitrary: fc.constantFrom<HeaderSpec["signature"]>("valid", "stale") },
    {
      weight: 1,
      arbitrary: fc
        .oneof(headerText, fc.constant(`t=${Math.floor(Date.now() / 1000)},v2=${"ab".repeat(32)}`), fc.constant("t=1,v1=zz"))
        .map((raw): HeaderSpec["signature"] => ({ raw })),
    },
  ),
});

interface FuzzCase {
  method: string;
  path: string;
  body: string;
  headers: HeaderSpec;
}

function headersOf(spec: HeaderSpec, body: string, method: string, target: string): Record<string, string> {
  const headers: Record<string, string> = {};
  const c = spec.credential;
  if (c !== "none") {
    const key =
      c === "prod"
        ? project.prod.apiKey
        : c === "dev"
          ? project.dev.apiKey
          : c === "revoked"
            ? revokedKey
            : c === "unknown"
              ? generateApiKey("PRODUCTION")
              : c === "other-project"
                ? otherProject.dev.apiKey
                : null;
    headers.authorization = key ? `Bearer ${key}` : (c as { raw: string }).raw.replace("PROD", project.prod.apiKey);
  }
  if (spec.contentType !== null) headers["content-type"] = spec.contentType;
  if (spec.idempotencyKey !== null) headers["idempotency-key"] = spec.idempotencyKey;
  if (spec.idempotencyKeyTTL !== null) headers["idempotency-key-ttl"] = spec.idempotencyKeyTTL;
  if (spec.traceparent !== null) headers.traceparent = spec.traceparent;
  const s = spec.signature;
  if (s === "valid") headers["x-hotpath-signature"] = signatureHeader(project.webhookSecret, { method, target, body });
  else if (s === "stale") headers["x-hotpath-signature"] = signatureHeader(project.webhookSecret, { method, target, body }, Math.floor(Date.now() / 1000) - 3_600);
  else if (s !== "none") headers["x-hotpath-signature"] = s.raw;
  return headers;
}

const triggerCase = fc.record({
  method: fc.constant("POST"),
  path: pathSegment(["email", "report", "agent", "not-deployed"]).map((slug) => `/api/v1/tasks/${slug}/trigger`),
  body: triggerBody,
  headers: headerSpec,
});
const deployCase = fc.record({ method: fc.constant("POST"), path: fc.constant("/api/v1/deployments"), body: deployBody, headers: headerSpec });
const promoteCase = fc.record({
  method: fc.constant("POST"),
  path: pathSegment(["v1", "v2", "v404", "2026.1"]).map((version) => `/api/v1/deployments/${version}/promote`),
  body: promoteBody,
  headers: headerSpec,
});

/** The runs API (issue 13): each route with plausible and hostile ids, bodies and query strings. */
const RUN_IDS = ["run_fuzzdelayed0000000000000", "run_fuzzqueued00000000000000", "run_unknown0000", "run_fuzzdelayed0000000000000"];
const runIdSegment = pathSegment(RUN_IDS);
const queryText = fc
  .array(
    fc.tuple(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom("filter[status]", "filter[taskIdentifier]", "filter[version]", "filter[tag]", "filter[isTest]", "filter[createdAt][from]", "filter[createdAt][to]", "filter[createdAt][period]", "page[size]", "page[after]", "page[before]", "status", "from", "to", "period") },
        { weight: 1, arbitrary: hostileString.filter((s) => s.length < 200) },
      ),
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom("QUEUED,DELAYED", "EXPIRED", "NOPE", "email", "v1", "true", "maybe", "1h", "0", "101", "25", "1700000000000", "2026-01-01T00:00:00Z", "DEPLOYED", "%", "", ",,,") },
        { weight: 2, arbitrary: hostileString.filter((s) => s.length < 2_000) },
      ),
    ),
    { maxLength: 5 },
  )
  .map((pairs) => {
    const params = new URLSearchParams();
    for (const [k, v] of pairs) params.append(k.replace(/[\ud800-\udfff]/g, "?"), v.replace(/[\ud800-\udfff]/g, "?"));
    return params.toString();
  });
const runsBody = fc.oneof(
  { weight: 6, arbitrary: fieldsText({ delay: triggerOptions, tags: fc.oneof(fc.array(hostileString.map(str), { maxLength: 12 }).map(arr), hostileString.map(str)), taskIdentifier: hostileString.map(str) }) },
  { weight: 4, arbitrary: fieldsText({ delay: fc.oneof(fc.constantFrom('"1h"', '"0"', '"2099-01-01T00:00:00Z"', '"2020-01-01T00:00:00Z"', "5"), hostileString.map(str)) }) },
  {
    weight: 4,
    arbitrary: fieldsText({
      metadata: jsonText,
      operations: fc
        .array(
          fieldsText({
            type: fc.constantFrom("set", "delete", "append", "remove", "increment", "update", "nope").map(str),
            key: fc.oneof(fc.constantFrom("a", "$.a.b", "__proto__", "$.constructor.prototype", "$", "$.").map(str), hostileString.map(str)),
            value: jsonText,
          }),
          { maxLength: 4 },
        )
        .map(arr),
    }),
  },
  { weight: 3, arbitrary: fieldsText({ payload: jsonText, payloadType: fc.constantFrom('"application/json"', '"x"'), version: fc.constantFrom('"v1"', '"v404"'), queue: fc.constant('"q"'), tags: fc.constant('["a"]'), machine: fc.constant('"micro"') }) },
  { weight: 1, arbitrary: pollutionText },
  { weight: 1, arbitrary: invalidJsonText },
  { weight: 1, arbitrary: fc.constant("") },
);
const runsCase = fc.oneof(
  fc.record({ method: fc.constant("GET"), path: runIdSegment.map((id) => `/api/v3/runs/${id}`), body: fc.constant(""), headers: headerSpec }),
  fc.record({ method: fc.constant("GET"), path: queryText.map((q) => `/api/v1/runs?${q}`), body: fc.constant(""), headers: headerSpec }),
  fc.record({ method: fc.constant("GET"), path: queryText.map((q) => `/api/v1/deployments?${q}`), body: fc.constant(""), headers: headerSpec }),
  fc.record({ method: fc.constant("GET"), path: fc.constant("/api/v1/deployments/current"), body: fc.constant(""), headers: headerSpec }),
  fc.record({
    method: fc.constant("POST"),
    path: fc.tuple(runIdSegment, fc.constantFrom("/api/v2/runs/:id/cancel", "/api/v1/runs/:id/reschedule", "/api/v1/runs/:id/replay", "/api/v1/runs/:id/tags")).map(([id, p]) => p.replace(":id", id)),
    body: runsBody,
    headers: headerSpec,
  }),
  fc.record({ method: fc.constant("PUT"), path: runIdSegment.map((id) => `/api/v1/runs/${id}/metadata`), body: runsBody, headers: headerSpec }),
  fc.record({ method: fc.constant("POST"), path: pathSegment(["fuzz-1", "fuzz-2", "k"]).map((key) => `/api/v1/idempotencyKeys/${key}/reset`), body: runsBody, headers: headerSpec }),
);

/* ─────────────────────────────── oracle ─────────────────────────────── */

interface Outcome {
  status: number;
  contentType: string | undefined;
  text: string;
}

const statusCounts = new Map<string, number>();
const violations: string[] = [];
let cases = 0;
let serverErrors = 0;
const prototypeKeys = () => Reflect.ownKeys(Object.prototype).length + Reflect.ownKeys(Array.prototype).length;
const baselinePrototypeKeys = prototypeKeys();

function describeCase(c: FuzzCase): string {
  const cut = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s);
  return JSON.stringify({ path: cut(c.path), headers: c.headers, body: cut(c.body) });
}

/** The route-independent contract of every answer; returns what is wrong, or null. */
function problemWith(route: string, outcome: Outcome): string | null {
  if (outcome.status >= 500) return `status ${outcome.status}`;
  if (!outcome.contentType?.startsWith("application/json")) return `content-type ${outcome.contentType}`;
  let body: unknown;
  try {
    body = JSON.parse(outcome.text);
  } catch {
    return "body is not JSON";
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "body is not an object";
  const record = body as Record<string, unknown>;
  if (outcome.status >= 400) {
    if (typeof record.error !== "string" || record.error.length === 0) return "4xx without a string error";
    if (!Object.keys(record).every((k) => k === "error" || k === "details")) return `4xx with extra keys ${Object.keys(record)}`;
    return null;
  }
  if (outcome.status !== 200) return `unexpected status ${outcome.status}`;
  if (route === "trigger" && !(typeof record.id === "string" && /^run_[0-9a-z]{24}$/.test(record.id) && typeof record.isCached === "boolean")) {
    return "trigger 200 without {id, isCached}";
  }
  if (route === "runs") return null; // their shapes are the SDK's, checked by sdk.contract.test.ts
  if (route !== "trigger" && !(typeof record.workerId === "string" && typeof record.version === "string")) return `${route} 200 without workerId/version`;
  return null;
}

function check(route: string, c: FuzzCase, outcome: Outcome) {
  cases += 1;
  const key = `${route} ${outcome.status}`;
  statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1);
  if (outcome.status >= 500) serverErrors += 1;
  const problem = problemWith(route, outcome);
  if (problem && violations.length < 25) violations.push(`${route}: ${problem}: ${outcome.text.slice(0, 200)}\n    case ${describeCase(c)}`);
  if (({} as Record<string, unknown>).polluted !== undefined || prototypeKeys() !== baselinePrototypeKeys) {
    violations.push(`${route}: prototype pollution after case ${describeCase(c)}`);
    throw new Error("prototype polluted; stopping");
  }
}

/** The shared router in this process, with the lanes' body-size guard. */
async function inProcess(c: FuzzCase): Promise<Outcome> {
  const raw = Buffer.from(c.body);
  const headers = new Map(Object.entries(headersOf(c.headers, c.body, c.method, c.path)).map(([k, v]) => [k.toLowerCase(), v]));
  headers.set("content-length", String(raw.length));
  const url = new URL(c.path, "http://localhost");
  const request: ApiRequest = {
    method: c.method,
    path: url.pathname,
    target: c.path,
    query: () => url.searchParams,
    header: (name) => headers.get(name),
    body: async (limitBytes) => {
      checkDeclaredLength(headers.get("content-length"), limitBytes);
      const collector = new BodyCollector(limitBytes);
      collector.add(raw);
      return collector.result();
    },
  };
  const response = await handleApi(request);
  return { status: response.status, contentType: response.headers["content-type"], text: response.body };
}

async function overHttp(c: FuzzCase): Promise<Outcome> {
  const hasBody = c.method !== "GET" && c.method !== "HEAD";
  const response = await fetch(new URL(c.path, server.url), {
    method: c.method,
    headers: headersOf(c.headers, c.body, c.method, c.path),
    body: hasBody ? c.body : undefined,
  });
  return { status: response.status, contentType: response.headers.get("content-type") ?? undefined, text: await response.text() };
}

const ROUTES = { trigger: triggerCase, deploy: deployCase, promote: promoteCase, runs: runsCase } as const;
const CONCURRENCY = 8;
const BATCH = 250;

/**
 * Checks `runs` cases drawn from `arbitrary` (seeded: the seed is printed, and FUZZ_SEED replays
 * a run), `CONCURRENCY` at a time: the handlers wait on Redis and Postgres, so overlapping cases
 * keeps 10,000 of them within the time budget. That gives up fast-check's shrinking, so a
 * violation is reported with its whole case instead.
 */
async function fuzz(route: string, arbitrary: fc.Arbitrary<FuzzCase>, runs: number, send: (c: FuzzCase) => Promise<Outcome>) {
  for (let start = 0; start < runs; start += BATCH) {
    // Drawn batch by batch: a few cases are megabytes long.
    const batch = fc.sample(arbitrary, { numRuns: Math.min(BATCH, runs - start), seed: SEED + runs + start });
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < batch.length; i = next++) check(route, batch[i], await send(batch[i]));
      }),
    );
  }
}

describe("fuzzing the trigger, deploy and promote routes", () => {
  afterAll(() => {
    const byStatus = [...statusCounts].sort().map(([k, n]) => `${k}: ${n}`).join(", ");
    console.log(`[fuzz] seed ${SEED}: ${cases} cases, ${serverErrors} × 5xx, ${violations.length} violations\n  ${byStatus}`);
  });

  for (const [route, arbitrary] of Object.entries(ROUTES)) {
    const runs = IN_PROCESS_RUNS[route as keyof typeof IN_PROCESS_RUNS];
    it(`${route}: ${runs} cases in-process — never a 5xx, every 4xx {error, details?}, no prototype pollution`, async () => {
      await fuzz(route, arbitrary, runs, inProcess);
      expect(violations).toEqual([]);
    }, 600_000);
  }

  for (const [route, arbitrary] of Object.entries(ROUTES)) {
    it(`${route}: ${HTTP_RUNS} cases over HTTP through the lean lane`, async () => {
      await fuzz(route, arbitrary, HTTP_RUNS, overHttp);
      expect(violations).toEqual([]);
    }, 300_000);
  }
});

/** Writes a raw HTTP/1.1 request head on a socket, so the test controls exactly how the body arrives. */
async function rawRequest(head: string[]): Promise<Socket> {
  const socket = connect(Number(new URL(server.url).port), "127.0.0.1");
  await once(socket, "connect");
  socket.write(`${head.join("\r\n")}\r\n\r\n`);
  return socket;
}

describe("body limits and bodies that cannot be parsed or stored (lean lane, real HTTP)", () => {
  const LIMIT = 1_048_576; // API_BODY_LIMIT_BYTES default
  const UPLOAD = 8 * LIMIT;
  const CHUNK = 64 * 1024;

  it("a slow 8 MiB chunked upload is answered 413 once the limit is passed and the connection closed, long before the upload ends", async () => {
    const socket = await rawRequest([
      "POST /api/v1/tasks/email/trigger HTTP/1.1",
      "Host: localhost",
      `Authorization: Bearer ${project.prod.apiKey}`,
      "Content-Type: application/json",
      "Transfer-Encoding: chunked",
    ]);
    let sent = 0;
    let response = "";
    let answeredAt = -1;
    let closedAt = -1;
    socket.on("data", (data) => {
      response += data;
      if (answeredAt < 0) answeredAt = sent;
    });
    socket.on("close", () => (closedAt = sent));
    socket.on("error", () => {}); // writing after the server closed: EPIPE / ECONNRESET, expected
    const chunk = (payload: string) => `${Buffer.byteLength(payload).toString(16)}\r\n${payload}\r\n`;
    socket.write(chunk('{"payload":"'));
    sent += '{"payload":"'.length;
    const filler = "x".repeat(CHUNK);
    const started = performance.now();
    while (sent < UPLOAD && closedAt < 0 && !socket.destroyed) {
      socket.write(chunk(filler));
      sent += CHUNK;
      // The upload's own pace (~6 MiB/s), so that the server's answer has time to arrive mid-upload.
      await new Promise((r) => setTimeout(r, 10));
    }
    const deadline = Date.now() + 5_000;
    while (closedAt < 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const uploadMs = performance.now() - started;
    console.log(`[fuzz] 413 after ${(answeredAt / 1024).toFixed(0)} KiB of ${UPLOAD / 1024} KiB; connection closed after ${(closedAt / 1024).toFixed(0)} KiB (${uploadMs.toFixed(0)} ms)`);

    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(response.toLowerCase()).toContain("connection: close");
    const body = JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4));
    expect(body).toEqual({ error: expect.stringMatching(/larger than the limit/) });
    // Answered once a little more than the limit had been sent, not after reading everything.
    expect(answeredAt).toBeGreaterThanOrEqual(LIMIT);
    expect(answeredAt).toBeLessThan(LIMIT + 16 * CHUNK);
    // The server stopped taking the upload: the connection closed before it was all sent.
    expect(closedAt).toBeGreaterThan(0);
    expect(closedAt).toBeLessThan(UPLOAD);
    socket.destroy();
  }, 60_000);

  it("a declared Content-Length over the limit is refused with 413 before any body is sent", async () => {
    const socket = await rawRequest([
      "POST /api/v1/deployments HTTP/1.1",
      "Host: localhost",
      `Authorization: Bearer ${project.prod.apiKey}`,
      "Content-Type: application/json",
      `Content-Length: ${50 * LIMIT}`,
    ]);
    let response = "";
    socket.on("data", (data) => (response += data));
    socket.on("error", () => {});
    const closed = once(socket, "close");
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer: ${response}`)), 5_000))]);
    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4)).error).toMatch(/larger than the limit/);
  }, 30_000);

  const send = (path: string, body: string) =>
    fetch(new URL(path, server.url), { method: "POST", headers: { authorization: `Bearer ${project.prod.apiKey}`, "content-type": "application/json" }, body });
  const ROUTE_PATHS = ["/api/v1/tasks/email/trigger", "/api/v1/deployments", "/api/v1/deployments/v1/promote"];

  it.each(ROUTE_PATHS)("invalid JSON to %s is a 400 'Invalid JSON body'", async (path) => {
    for (const body of ["{", '{"a":1,}', "nul", "{}x"]) {
      const response = await send(path, body);
      expect(response.status, body).toBe(400);
      expect(await response.json()).toEqual({ error: expect.stringMatching(/^Invalid JSON body: /) });
    }
  });

  // What the fuzzing found: each of these was a 500 (Postgres or Prisma refusing the value, or
  // JSON.stringify overflowing the stack) before the API checked for it.
  it.each([
    ["a NUL in the payload", "/api/v1/tasks/email/trigger", '{"payload":{"note":"a\\u0000b"}}', /payload\.note contains a NUL/],
    ["a lone surrogate in a tag", "/api/v1/tasks/email/trigger", '{"options":{"tags":["\\ud800"]}}', /options\.tags\[0\] contains an unpaired UTF-16 surrogate/],
    ["a NUL in a metadata key", "/api/v1/tasks/email/trigger", '{"options":{"metadata":{"\\u0000":1}}}', /options\.metadata has a key that contains a NUL/],
    ["a payload nested 5,000 deep", "/api/v1/tasks/email/trigger", `{"payload":${"[".repeat(5_000)}${"]".repeat(5_000)}}`, /nested more than 256 levels/],
    ["a lone surrogate in lockToVersion", "/api/v1/tasks/email/trigger", '{"options":{"lockToVersion":"v\\udfff"}}', /unpaired/],
    ["a lone surrogate in a deploy's environment", "/api/v1/deployments", '{"environment":"\\ud83d","version":"v9","tasks":[]}', /environment contains an unpaired/],
    ["a NUL in a task slug", "/api/v1/deployments", '{"version":"v9","tasks":[{"slug":"a\\u0000"}]}', /tasks\[0\]\.slug contains a NUL/],
    ["a NUL in the task id", "/api/v1/tasks/email%00/trigger", "{}", /Invalid path parameter taskId: it contains a NUL/],
    ["a NUL in the version", "/api/v1/deployments/v1%00/promote", "{}", /Invalid path parameter version: it contains a NUL/],
  ])("%s is a 400 naming where", async (_name, path, body, message) => {
    const response = await send(path, body);
    expect(response.status).toBe(400);
    const json = await response.json();
    expect(json.error).toMatch(message);
    expect(Object.keys(json).every((k) => k === "error" || k === "details")).toBe(true);
  });
});

/* ─────────────────────────────── page routes and odd request lines ─────────────────────────────── */

/** What no answer may contain: a stack frame, an absolute path of this machine, a module folder. */
const STACK_TRACE = /\n\s+at [^\n]+:\d+:\d+|\/work\/|node_modules|[A-Za-z]+Error: .*\n\s+at /;

/** One raw HTTP/1.1 exchange, so the test controls the request line and the Host header. */
async function rawExchange(lines: string[], body = ""): Promise<{ status: number; text: string }> {
  const socket = await rawRequest([...lines, ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []), "Connection: close"]);
  if (body) socket.write(body);
  let response = "";
  socket.on("data", (d) => (response += d));
  socket.on("error", () => {});
  await Promise.race([once(socket, "close"), new Promise((r) => setTimeout(r, 10_000))]);
  socket.destroy();
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
  return { status, text: response };
}

describe("odd request lines (issue 12, finding 7): 400, no details, never a stack trace", () => {
  const port = () => new URL(server.url).port;
  const cases: [string, () => string[]][] = [
    ["an absolute-form target", () => [`GET http://127.0.0.1:${port()}/healthz HTTP/1.1`, `Host: 127.0.0.1:${port()}`]],
    ["an absolute-form target to a page", () => [`GET http://evil.example/login HTTP/1.1`, `Host: 127.0.0.1:${port()}`]],
    ["an absolute-form target to the API", () => [`GET http://127.0.0.1/api/v1/runs/x HTTP/1.1`, `Host: 127.0.0.1:${port()}`]],
    ["OPTIONS *", () => ["OPTIONS * HTTP/1.1", `Host: 127.0.0.1:${port()}`]],
    ["a Host with a space", () => ["GET /login HTTP/1.1", "Host: bad host"]],
    ["a Host with a slash", () => ["GET /admin HTTP/1.1", "Host: a/b"]],
    ["an unclosed IPv6 Host", () => ["GET /healthz HTTP/1.1", "Host: [::1"]],
    ["a Host with a user", () => ["GET /login HTTP/1.1", "Host: user@evil.example"]],
    ["an X-Forwarded-Host that is not a host", () => ["GET /login HTTP/1.1", `Host: 127.0.0.1:${port()}`, "X-Forwarded-Host: a b"]],
    ["a target starting with //", () => ["GET //evil.example/login HTTP/1.1", `Host: 127.0.0.1:${port()}`]],
  ];

  it.each(cases)("%s", async (_name, head) => {
    const { status, text } = await rawExchange(head());
    expect(status, text).toBe(400);
    expect(text.slice(text.indexOf("\r\n\r\n") + 4)).toBe("Bad Request");
    expect(text).not.toMatch(STACK_TRACE);
  });

  it("an ordinary request line still works (control)", async () => {
    const { status } = await rawExchange(["GET /login HTTP/1.1", `Host: 127.0.0.1:${port()}`]);
    expect(status).toBe(200);
  });
});

interface PageSession {
  anonymous: Record<string, string>;
  viewer: Record<string, string>;
  admin: Record<string, string>;
}

const PAGE_ADMIN = { email: "fuzz-admin@hotpath.test", password: "fuzz admin password" };
const PAGE_VIEWER = { email: "fuzz-viewer@hotpath.test", password: "fuzz viewer password" };
let sessions: PageSession;

async function pageCookie(user: { email: string; password: string }): Promise<string> {
  const response = await fetch(`${server.url}/login`, { method: "POST", body: new URLSearchParams(user), headers: { Origin: server.url }, redirect: "manual" });
  expect(response.status).toBe(302);
  return response.headers.get("set-cookie")!.split(";")[0];
}

describe("NUL characters in page inputs (issue 12, finding 9): a 400 naming the field, not a 500", () => {
  beforeAll(async () => {
    await upsertUser({ ...PAGE_ADMIN, role: "ADMIN" });
    await upsertUser({ ...PAGE_VIEWER, role: "VIEWER" });
    sessions = {
      anonymous: {},
      viewer: { Cookie: await pageCookie(PAGE_VIEWER) },
      admin: { Cookie: await pageCookie(PAGE_ADMIN) },
    };
  });

  it("anonymous: email=a%00b%40x.y on POST /login", async () => {
    const response = await fetch(`${server.url}/login`, {
      method: "POST",
      body: "email=a%00b%40x.y&password=whatever",
      headers: { Origin: server.url, "Content-Type": "application/x-www-form-urlencoded" },
      redirect: "manual",
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toBe("Form field 'email' contains a NUL character (\\u0000).");
  });

  it("VIEWER: the runs page's task filter with a NUL", async () => {
    const response = await fetch(`${server.url}/admin/runs?env=${project.prod.id}&task=a%00b`, { headers: sessions.viewer, redirect: "manual" });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/Query parameter 'task' contains a NUL/);
  });

  it("a NUL in a path parameter of an admin page", async () => {
    const response = await fetch(`${server.url}/admin/environments/a%00b/cache`, { headers: sessions.admin, redirect: "manual" });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/The path contains a NUL/);
  });

  it("through Remix alone (no production server): the login form's error and the runs page's 400", async () => {
    const login = await remixRequest("/login", {
      method: "POST",
      body: "email=a%00b%40x.y&password=whatever",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(login.status).toBe(422);
    expect(await login.text()).toContain("The email address contains a NUL character");
    const runs = await remixRequest(`/admin/runs?env=${project.prod.id}&task=a%00b`, { headers: { Cookie: sessions.viewer.Cookie } });
    expect(runs.status).toBe(400);
  });
});

describe("page routes under fuzzing (login, logout, admin pages and actions): 0 × 5xx, no stack trace", () => {
  const PAGE_RUNS = Number(process.env.FUZZ_PAGE_RUNS ?? 400);
  const pageText = fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.array(anyChar, { maxLength: 30 }).map((chars) => chars.join("")) },
    fc.constantFrom("", "%00", "\u0000", "\ud800", "/\\evil", "//evil.example", "../../etc", "9".repeat(40), "-1", "ADMIN", "VIEWER", "promote", "invalidate", "delete-field", "rebuild", "sign-out-everywhere", "role"),
    fc.string({ minLength: 300, maxLength: 3000 }),
  );
  const pagePath = fc.constantFrom(
    "/",
    "/login",
    "/logout",
    "/admin",
    "/admin?index",
    "/admin/deployments",
    "/admin/environments",
    "/admin/environments?index",
    "/admin/runs",
    "/admin/users",
    "/healthz",
    "/metrics",
    "/nope",
    "ENV_CACHE",
    "/admin/environments/unknown/cache",
    "/admin/environments/ENV/cache/workers/unknown",
  );
  const FIELDS = ["intent", "confirmTarget", "email", "password", "redirectTo", "userId", "role", "environmentId", "version", "field", "workerId", "cursor", "pattern", "_data"];
  const pageCase = fc.record({
    method: fc.constantFrom("GET", "POST", "POST", "HEAD", "PUT", "DELETE", "PATCH"),
    path: pagePath,
    query: fc.array(fc.tuple(fc.constantFrom(...FIELDS, "env", "task", "status", "source", "after", "before", "window", "confirm", "q"), pageText), { maxLength: 4 }),
    form: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), pageText), pageText), { maxLength: 6 }),
    as: fc.constantFrom<keyof PageSession>("anonymous", "viewer", "admin"),
    origin: fc.constantFrom("same", "none", "evil"),
    contentType: fc.constantFrom("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", "application/json"),
  });

  it(`${PAGE_RUNS} cases over HTTP through the production server`, async () => {
    const violations: string[] = [];
    const cases = fc.sample(pageCase, { numRuns: PAGE_RUNS, seed: SEED });
    for (const c of cases) {
      const path = c.path.replace("ENV_CACHE", `/admin/environments/${project.prod.id}/cache`).replace("/ENV/", `/${project.prod.id}/`);
      const query = new URLSearchParams(c.query).toString();
      const url = `${server.url}${path}${query ? (path.includes("?") ? "&" : "?") + query : ""}`;
      const headers: Record<string, string> = { ...sessions[c.as], "Content-Type": c.contentType };
      if (c.origin === "same") headers.Origin = server.url;
      if (c.origin === "evil") headers.Origin = "https://evil.example";
      const hasBody = !["GET", "HEAD"].includes(c.method);
      let status: number;
      let text: string;
      try {
        const response = await fetch(url, { method: c.method, headers, body: hasBody ? new URLSearchParams(c.form).toString() : undefined, redirect: "manual" });
        status = response.status;
        text = await response.text();
      } catch (error) {
        violations.push(`${c.method} ${url}: ${(error as Error).message}`);
        continue;
      }
      if (status >= 500) violations.push(`${c.method} ${url} as ${c.as}: ${status} ${text.slice(0, 200)}`);
      if (STACK_TRACE.test(text)) violations.push(`${c.method} ${url} as ${c.as}: stack trace in the body`);
    }
    expect(violations).toEqual([]);
  }, 600_000);
});

describe("the production server after every HTTP case above", () => {
  it("the production server's own prototypes are untouched after the HTTP cases", async () => {
    await server.stop(); // the probe reports on exit
    const reports = readFileSync(probeFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { script: string | null; added: Record<string, string[]>; polluted: boolean });
    const serverReport = reports.find((r) => r.script?.endsWith("server.ts"));
    expect(serverReport, JSON.stringify(reports)).toBeDefined();
    for (const report of reports) {
      expect(report.polluted).toBe(false);
      expect(Object.values(report.added).flat()).toEqual([]);
    }
  }, 30_000);
});
