/**
 * The "slower Postgres" of `npm run bench:http`: a concurrent write load on the same server, so the
 * servers' statements queue behind other work as on a busy primary (no pg_sleep, no artificial
 * delay). Each of `--connections` clients inserts batches of rows with a 1 kB payload into a table
 * of its own (`bench_write_load`, in the bench database) in a loop and deletes what it wrote now
 * and then, so the table stays small and the load is WAL, index and CPU work.
 *
 *   node --import tsx scripts/bench/writeLoad.ts --connections 4
 *
 * Runs until SIGTERM; then prints `{"statements": N}` on stdout and exits.
 */
import { parseArgs } from "node:util";
import pg from "pg";
import { getEnv } from "~/env.server";

const { values } = parseArgs({ options: { connections: { type: "string", default: "4" } } });
const connections = Number(values.connections);
if (!Number.isInteger(connections) || connections < 1) {
  console.error("usage: writeLoad.ts --connections <N>");
  process.exit(2);
}

const ROWS_PER_INSERT = 20;
const PAYLOAD = "x".repeat(1024);
let statements = 0;
let stopping = false;

async function worker(pool: pg.Pool, lane: number) {
  const client = await pool.connect();
  try {
    for (let round = 1; !stopping; round++) {
      await client.query({
        name: "write-load-insert",
        text: `INSERT INTO bench_write_load (lane, payload) SELECT $1, $2 FROM generate_series(1, ${ROWS_PER_INSERT})`,
        values: [lane, PAYLOAD],
      });
      statements++;
      if (round % 50 === 0) {
        await client.query("DELETE FROM bench_write_load WHERE lane = $1", [lane]);
        statements++;
      }
    }
  } finally {
    client.release();
  }
}

const pool = new pg.Pool({ connectionString: getEnv().DATABASE_URL, max: connections + 1, application_name: "hotpath-bench-write-load" });
await pool.query("CREATE TABLE IF NOT EXISTS bench_write_load (id bigserial PRIMARY KEY, lane int NOT NULL, payload text NOT NULL, at timestamptz NOT NULL DEFAULT now())");
await pool.query("CREATE INDEX IF NOT EXISTS bench_write_load_lane ON bench_write_load (lane, at)");
const lanes = Array.from({ length: connections }, (_, lane) => worker(pool, lane));
console.error(`write load: ${connections} connections`);

process.once("SIGTERM", () => {
  stopping = true;
  void Promise.allSettled(lanes)
    .then(() => pool.end())
    .finally(() => {
      console.log(JSON.stringify({ statements }));
      process.exit(0);
    });
});
