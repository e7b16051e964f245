import { pgPool } from "~/db.server";
import { redis } from "~/redis.server";
import { logger } from "~/services/logger.server";
import { persistenceWarning } from "~/services/triggerBuffer/durability.server";

/**
 * Reachability of the two dependencies Hotpath cannot serve without. Each probe has its own short
 * deadline so a dead or black-holed dependency answers /healthz in about a second, not after a
 * driver's connect timeout.
 */

export const PROBE_TIMEOUT_MS = 1_000;

export type Component = "postgres" | "redis";
type Status = "ok" | "down";

export interface HealthReport {
  healthy: boolean;
  /** `warnings`: healthy but weaker than configured to be (the trigger buffer without Redis persistence). */
  body: Record<Component, Status> & { error?: string; details?: Partial<Record<Component, string>>; warnings?: string[] };
}

class ProbeTimeout extends Error {}

class NotConnected extends Error {
  constructor(readonly state: string) {
    super(`redis client is ${state}`);
  }
}

interface ProbeFailure {
  reason: string;
  error: unknown;
}

async function probe(run: () => Promise<unknown>): Promise<ProbeFailure | null> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout()), PROBE_TIMEOUT_MS);
  });
  try {
    await Promise.race([run(), deadline]);
    return null;
  } catch (error) {
    return { reason: describe(error), error };
  } finally {
    clearTimeout(timer);
  }
}

async function probeValue<T>(read: () => Promise<T>): Promise<T | null> {
  let value: T | null = null;
  const failure = await probe(async () => {
    value = await read();
  });
  if (failure) logger.warn("health check: trigger buffer persistence not checked", { reason: failure.reason, error: failure.error });
  return failure ? null : value;
}

// The reason without hosts, ports or credentials: /healthz is public.
function describe(error: unknown): string {
  if (error instanceof ProbeTimeout) return `no answer within ${PROBE_TIMEOUT_MS} ms`;
  if (error instanceof NotConnected) return `not connected (${error.state})`;
  const code = (error as { code?: unknown })?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (typeof code === "string") return `connection failed (${code})`;
  return "query failed";
}

export async function checkHealth(): Promise<HealthReport> {
  const [postgresError, redisError, warning] = await Promise.all([
    probe(() => pgPool().query("SELECT 1")),
    probe(() => {
      const client = redis();
      // Already failing and retrying in the background: say so now rather than queue a PING
      // behind the reconnect loop until the deadline.
      if (client.status === "reconnecting" || client.status === "end") throw new NotConnected(client.status);
      return client.ping();
    }),
    // Within the probe deadline too; an unreachable Redis is reported above, not as a warning.
    probeValue(persistenceWarning),
  ]);
  const failures = { postgres: postgresError, redis: redisError };
  const body: HealthReport["body"] = {
    postgres: postgresError ? "down" : "ok",
    redis: redisError ? "down" : "ok",
  };
  if (warning) body.warnings = [warning];
  const down = (Object.keys(failures) as Component[]).filter((c) => failures[c] !== null);
  if (down.length > 0) {
    body.error = `${down.join(" and ")} ${down.length === 1 ? "is" : "are"} down`;
    body.details = Object.fromEntries(down.map((c) => [c, failures[c]!.reason]));
    for (const component of down) {
      logger.warn("health check failed", { component, error: failures[component]!.error });
    }
  }
  return { healthy: down.length === 0, body };
}
