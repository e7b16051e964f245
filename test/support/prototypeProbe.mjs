/**
 * Preloaded into a spawned server (NODE_OPTIONS=--import=<this file's URL>) to detect prototype
 * pollution inside that process: on exit it appends one JSON line to HOTPATH_PROTOTYPE_PROBE_FILE
 * naming the properties added to the built-in prototypes since start-up, and whether a fresh
 * object has inherited a `polluted` property. See test/integration/api.fuzz.test.ts.
 */
import { appendFileSync } from "node:fs";

const PROTOTYPES = { Object: Object.prototype, Array: Array.prototype, Function: Function.prototype, String: String.prototype };
const baseline = Object.fromEntries(Object.entries(PROTOTYPES).map(([name, proto]) => [name, new Set(Reflect.ownKeys(proto).map(String))]));

process.on("exit", () => {
  const file = process.env.HOTPATH_PROTOTYPE_PROBE_FILE;
  if (!file) return;
  const added = Object.fromEntries(
    Object.entries(PROTOTYPES).map(([name, proto]) => [name, Reflect.ownKeys(proto).map(String).filter((key) => !baseline[name].has(key))]),
  );
  const fresh = {};
  appendFileSync(file, `${JSON.stringify({ pid: process.pid, script: process.argv[1] ?? null, added, polluted: fresh.polluted !== undefined })}\n`);
});
