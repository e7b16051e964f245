import { Redis } from "ioredis";

/**
 * Counts the commands a Redis server executed, from `INFO commandstats` (every command of every
 * client, pub/sub included). Meant for a private redis-server (privateRedis.ts) that nothing else
 * talks to: the count between two readings is exactly what the code under test sent, minus the
 * INFO calls of this counter, which are left out.
 */
export class RedisCommandCounter {
  private readonly client: Redis;

  constructor(url: string) {
    this.client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  }

  /** Calls per command (lower-case name, e.g. `get`, `evalsha`) since the server started, INFO excluded. */
  async calls(): Promise<Map<string, number>> {
    const text = await this.client.info("commandstats");
    const counts = new Map<string, number>();
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (match[1] === "info") continue;
      counts.set(match[1], Number(match[2]));
    }
    return counts;
  }

  /** Commands executed while `work` ran, per command name (only those that moved). */
  async during(work: () => Promise<unknown>): Promise<Record<string, number>> {
    const before = await this.calls();
    await work();
    const after = await this.calls();
    const delta: Record<string, number> = {};
    for (const [name, count] of after) {
      const moved = count - (before.get(name) ?? 0);
      if (moved > 0) delta[name] = moved;
    }
    return delta;
  }

  close(): Promise<void> {
    return this.client.quit().then(() => undefined, () => this.client.disconnect());
  }
}
