import fs from "node:fs";
import { pgPool } from "~/db.server";

/**
 * What a server costs Postgres, for `npm run bench:http`: the statements it sent (its own count:
 * the app's `hotpath_postgres_statements_total` on /metrics, the floor's /stats) and the CPU time
 * of the Postgres backends serving its pool.
 *
 * pg_stat_statements would give both from the server side, but it needs
 * `shared_preload_libraries` (a restart of a Postgres other work shares), so the CPU comes from
 * /proc/<pid>/stat of the backends instead: each server connects with its own
 * `application_name`, which pg_stat_activity maps to backend pids. A backend that appears during a
 * window counts from zero (the pool opened it for the load: its start-up is part of the cost); one
 * that ends inside a window loses its last share (counted in `vanished`). Postgres must run on this
 * machine for /proc to see it; otherwise CPU is reported as unavailable.
 */

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

export function withApplicationName(databaseUrl: string, applicationName: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set("application_name", applicationName);
  return url.toString();
}

/** CPU ticks (user + system) per backend pid of one application name; null when /proc cannot see them. */
export async function backendTicks(applicationName: string): Promise<Map<number, number> | null> {
  const { rows } = await pgPool().query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [applicationName]);
  const ticks = new Map<number, number>();
  for (const { pid } of rows) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch (error) {
      // Gone between the query and the read (or Postgres runs on another machine: null below).
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks.set(pid, Number(fields[11]) + Number(fields[12]));
  }
  if (rows.length > 0 && ticks.size === 0) return null;
  return ticks;
}

/** CPU milliseconds between two readings, and how many backends ended in between. */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): { ms: number; vanished: number } {
  let ticks = 0;
  for (const [pid, now] of after) ticks += now - (before.get(pid) ?? 0);
  const vanished = [...before.keys()].filter((pid) => !after.has(pid)).length;
  return { ms: (ticks * 1000) / CLOCK_TICKS_PER_SECOND, vanished };
}

/** Statements a server has sent so far: the route's /metrics counter, or the floor's /stats. */
export async function statementsSent(baseUrl: string, kind: "route" | "floor", metricsToken: string): Promise<number> {
  if (kind === "floor") {
    const response = await fetch(`${baseUrl}/stats`);
    return ((await response.json()) as { statements: number }).statements;
  }
  const response = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
  const text = await response.text();
  const line = text.split("\n").find((l) => l.startsWith('hotpath_postgres_statements_total{database="primary"}'));
  if (!line) throw new Error(`${baseUrl}/metrics has no hotpath_postgres_statements_total (status ${response.status})`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}
