import { performance } from "node:perf_hooks";
import { logger } from "~/services/logger.server";

/** The two ways a scenario is timed. Both return per-call latencies in milliseconds. */

export async function timeSequential(n: number, call: () => Promise<unknown>): Promise<number[]> {
  const latencies = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await call();
    latencies[i] = performance.now() - start;
  }
  return latencies;
}

/**
 * `n` calls with `concurrency` in flight at any time (lanes that each take the next call when
 * their previous one returns), as a loaded server issues them. `totalMs` is the wall time from
 * the first call to the last answer.
 */
export async function timeParallel(
  n: number,
  concurrency: number,
  call: () => Promise<unknown>,
): Promise<{ totalMs: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < n) {
      next++;
      const start = performance.now();
      await call();
      latencies.push(performance.now() - start);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
  return { totalMs: performance.now() - started, latencies };
}

/**
 * Runs the resolver's back-fills as production does (started at once, never awaited by the
 * call) while remembering them, so the benchmark can wait for the stragglers between timed runs
 * instead of letting one scenario's background writes land in the next one's timings.
 */
export class BackfillTracker {
  private readonly pending = new Set<Promise<unknown>>();
  failures = 0;

  readonly schedule = (backfill: () => Promise<unknown>) => {
    const running = backfill().catch((error: unknown) => {
      this.failures++;
      logger.warn("bench: back-fill failed", { error });
    });
    this.pending.add(running);
    void running.finally(() => this.pending.delete(running));
  };

  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }
}
