import { pgPool } from "~/db.server";

/**
 * Runs a bounded statement (one that moves at most `batchSize` rows: `LIMIT $n` inside) until it
 * moves fewer than a full batch; returns the rows moved in all. The run lifecycle's steps.
 */
export async function drainStatement(query: { name: string; text: string; values: unknown[] }, batchSize: number): Promise<number> {
  let total = 0;
  for (;;) {
    const moved = (await pgPool().query(query)).rowCount ?? 0;
    total += moved;
    if (moved < batchSize) return total;
  }
}
