/**
 * docs/api.md "Using the trigger.dev SDK": the example, as a user would run it against the
 * quickstart (`npm run quickstart`, then in another shell):
 *
 *   HOTPATH_URL=http://localhost:3000 HOTPATH_PROD_KEY=$(sed -n 's/^SEED_PROD_API_KEY=//p' .env) npx tsx scripts/sdkExample.ts
 */
import { configure, deployments, idempotencyKeys, runs, tasks } from "@trigger.dev/sdk";

configure({ baseURL: process.env.HOTPATH_URL ?? "http://localhost:3000", accessToken: process.env.HOTPATH_PROD_KEY });

// The SDK hashes keys; keep the created key to reset it later.
const key = await idempotencyKeys.create("welcome-u_123");
const handle = await tasks.trigger(
  "send-welcome-email",
  { userId: "u_123" },
  { idempotencyKey: key, idempotencyKeyTTL: "1h", tags: ["signup"], metadata: { source: "docs" }, maxAttempts: 3, machine: "small-1x", delay: "5m" },
);
console.log("triggered", handle.id);

const run = await runs.retrieve(handle.id);
console.log("retrieved", { status: run.status, delayedUntil: run.delayedUntil, tags: run.tags, payload: run.payload });

const again = await tasks.trigger("send-welcome-email", { userId: "u_123" }, { idempotencyKey: key });
console.log("same key, same run:", again.id === handle.id);

const rescheduled = await runs.reschedule(handle.id, { delay: "10m" });
console.log("rescheduled until", rescheduled.delayedUntil);

const page = await runs.list({ tag: "signup", status: ["DELAYED", "QUEUED"], limit: 10 });
console.log("listed", page.data.map((r) => `${r.id} ${r.status}`));

const replayed = await runs.replay(handle.id);
console.log("replayed as", replayed.id);

await runs.cancel(handle.id);
console.log("canceled:", (await runs.retrieve(handle.id)).status);

await idempotencyKeys.reset("send-welcome-email", key);
console.log("key reset; a new trigger gets a new run:", (await tasks.trigger("send-welcome-email", {}, { idempotencyKey: key })).id !== handle.id);

const current = await deployments.retrieveCurrent();
console.log("current deployment", current.version, current.status);
