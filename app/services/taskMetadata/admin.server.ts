import { Cluster, type Redis } from "ioredis";
import {
  environmentKeys,
  LOCKED_WORKER_FIELD,
  NO_CURRENT_WORKER,
  parseTaskMetaKey,
  reconcileLockKey,
  reconcileStateKey,
  type EnvironmentKeys,
} from "~/domain/cacheKeys";
import { containsPattern, escapeGlob } from "~/domain/redisGlob";
import { getEnv } from "~/env.server";
import { closeClient, createRedisClient, redisProfiles, type RedisClient } from "~/redis.server";

/**
 * The admin's view of the task metadata cache: look inside it (cursor SCAN/HSCAN, never KEYS),
 * and the few deletes the repairs (repairs.server.ts) and the sweep (reconciler.server.ts) need.
 *
 * The admin uses its own connection to the cache's Redis: a SCAN of a large keyspace or an HSCAN
 * of a 10,000-field hash must never queue in front of trigger reads on the hot-path connection,
 * and the admin can afford a normal timeout and an offline queue where the hot path cannot.
 */

export interface CurrentHashStatus {
  key: string;
  ownerKey: string;
  exists: boolean;
  fieldCount: number;
  /** Reply of TTL: seconds, -1 no expiry, -2 no key. */
  ttlSeconds: number;
  /** The worker the current hash was written for; null when the owner key is absent or says "no current worker". */
  ownerWorkerId: string | null;
}

/** A worker's locked hash (0055): found by its version, naming its worker in the `w` field. */
export interface WorkerHashSummary {
  /** Empty when the hash names no worker. */
  workerId: string;
  version: string;
  key: string;
  /** Every field: the worker, its tasks and its queue associations. */
  fieldCount: number;
  ttlSeconds: number;
}

export interface ScanPage<T> {
  items: T[];
  /** "0" when the iteration is complete. */
  nextCursor: string;
}

export const DEFAULT_SCAN_COUNT = 200;
/** Bound on the round trips behind one page (at the default COUNT, 20,000 slots of keyspace). */
const MAX_STEPS_PER_PAGE = 100;
const HMGET_CHUNK = 1_000;

function results<T>(replies: [Error | null, unknown][] | null): T[] {
  if (!replies) throw new Error("Redis pipeline returned no replies");
  return replies.map(([error, value]) => {
    if (error) throw error;
    return value as T;
  });
}

/** Walks cursor steps from `cursor` until `want` items, the end ("0") or MAX_STEPS_PER_PAGE steps. */
async function walkScan<T>(cursor: string, want: number, step: (cursor: string) => Promise<[string, T[]]>): Promise<ScanPage<T>> {
  const items: T[] = [];
  let next = cursor;
  for (let steps = 0; steps < MAX_STEPS_PER_PAGE; steps++) {
    const [after, found] = await step(next);
    items.push(...found);
    next = after;
    if (next === "0" || items.length >= want) break;
  }
  return { items, nextCursor: next };
}

export class TaskMetadataCacheAdmin {
  constructor(private readonly options: { client: RedisClient; prefix: string }) {}

  get client(): RedisClient {
    return this.options.client;
  }

  keys(environmentId: string): EnvironmentKeys {
    return environmentKeys(this.options.prefix, environmentId);
  }

  async currentStatus(environmentId: string): Promise<CurrentHashStatus> {
    const keys = this.keys(environmentId);
    // Both keys carry the environment's hash tag, so one pipeline also works on a cluster.
    const [fieldCount, ttlSeconds, owner] = results<number | string | null>(
      await this.client.pipeline().hlen(keys.current).ttl(keys.current).get(keys.owner).exec(),
    );
    return {
      key: keys.current,
      ownerKey: keys.owner,
      exists: Number(ttlSeconds) !== -2,
      fieldCount: Number(fieldCount),
      ttlSeconds: Number(ttlSeconds),
      ownerWorkerId: typeof owner === "string" && owner !== NO_CURRENT_WORKER ? owner : null,
    };
  }

  /**
   * A page of this environment's worker hashes: SCAN steps of `count` slots, walked until the page
   * holds `count` worker hashes or the iteration ends. SCAN filters after it walks, so in a keyspace
   * of other environments' keys one step alone is usually empty; the walk gives up after
   * MAX_STEPS_PER_PAGE steps and hands back its cursor, so a page may still be short, never stuck.
   */
  async scanWorkerHashes(environmentId: string, cursor = "0", count = DEFAULT_SCAN_COUNT): Promise<ScanPage<WorkerHashSummary>> {
    const keys = this.keys(environmentId);
    const node = await this.nodeHolding(keys.current);
    const page = await walkScan(cursor, count, async (at) => {
      const [next, found] = await node.scan(at, "MATCH", keys.pattern, "COUNT", count);
      const workers = found
        .map((key) => ({ key, parsed: parseTaskMetaKey(this.options.prefix, key) }))
        .filter((k) => k.parsed?.kind === "locked" && k.parsed.environmentId === environmentId)
        .map((k) => ({ key: k.key, version: k.parsed!.id! }));
      return [next, workers];
    });
    // A SCAN may return a key twice (the table was rehashed between steps): list it once.
    const workers = [...new Map(page.items.map((w) => [w.key, w])).values()].sort((a, b) => a.key.localeCompare(b.key));
    if (workers.length === 0) return { items: [], nextCursor: page.nextCursor };
    const pipeline = this.client.pipeline();
    for (const w of workers) pipeline.hlen(w.key).ttl(w.key).hget(w.key, LOCKED_WORKER_FIELD);
    const replies = results<number | string | null>(await pipeline.exec());
    return {
      nextCursor: page.nextCursor,
      items: workers.map((w, i) => ({
        ...w,
        workerId: String(replies[3 * i + 2] ?? ""),
        fieldCount: Number(replies[3 * i]),
        ttlSeconds: Number(replies[3 * i + 1]),
      })),
    };
  }

  /**
   * A page of a hash's fields, `filter` keeping those that contain it (literally): HSCAN steps
   * walked until the page holds `count` fields or the iteration ends, as for the worker hashes
   * (a filter that matches few fields would otherwise show empty pages).
   */
  async scanHash(
    key: string,
    options: { cursor?: string; filter?: string; count?: number; fieldPrefix?: string } = {},
  ): Promise<ScanPage<{ field: string; value: string }>> {
    const count = options.count ?? DEFAULT_SCAN_COUNT;
    // With a prefix (a locked hash's `t:`), only those fields, listed without it.
    const fieldPrefix = options.fieldPrefix ?? "";
    const pattern = `${escapeGlob(fieldPrefix)}${containsPattern(options.filter ?? "")}`;
    const page = await walkScan(options.cursor ?? "0", count, async (at) => {
      const [next, flat] = await this.client.hscan(key, at, "MATCH", pattern, "COUNT", count);
      const items: { field: string; value: string }[] = [];
      for (let i = 0; i < flat.length; i += 2) items.push({ field: flat[i].slice(fieldPrefix.length), value: flat[i + 1] });
      return [next, items];
    });
    const items = [...new Map(page.items.map((item) => [item.field, item])).values()];
    return { items: items.sort((a, b) => a.field.localeCompare(b.field)), nextCursor: page.nextCursor };
  }

  async hashStatus(key: string): Promise<{ fieldCount: number; ttlSeconds: number }> {
    const [fieldCount, ttlSeconds] = results<number>(await this.client.pipeline().hlen(key).ttl(key).exec());
    return { fieldCount: Number(fieldCount), ttlSeconds: Number(ttlSeconds) };
  }

  /** Values of `fields` (null where absent), in one round trip of chunked HMGETs. */
  async getFields(key: string, fields: string[]): Promise<(string | null)[]> {
    if (fields.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (let i = 0; i < fields.length; i += HMGET_CHUNK) pipeline.hmget(key, ...fields.slice(i, i + HMGET_CHUNK));
    return results<(string | null)[]>(await pipeline.exec()).flat();
  }

  /** Deletes the current hash and its owner together; returns how many of the two keys existed. */
  async deleteCurrent(environmentId: string): Promise<number> {
    const keys = this.keys(environmentId);
    return this.client.del(keys.current, keys.owner);
  }

  async deleteCurrentField(environmentId: string, slug: string): Promise<boolean> {
    return (await this.client.hdel(this.keys(environmentId).current, slug)) === 1;
  }

  /**
   * Who each environment's current hash was written for, from its owner key: null when there is
   * no owner key (nothing written, or expired), `{ workerId: null }` when it was written for "no
   * current worker". One GET each: on a Redis Cluster the owners live in different slots.
   */
  async currentOwners(environmentIds: string[]): Promise<({ workerId: string | null } | null)[]> {
    const owners = await Promise.all(environmentIds.map((id) => this.client.get(this.keys(id).owner)));
    return owners.map((owner) => (owner === null ? null : { workerId: owner === NO_CURRENT_WORKER ? null : owner }));
  }

  /** Takes the current-hash sweep's lock for `ttlMs` unless another instance holds it; never released early. */
  async takeReconcileLock(ttlMs: number, holder: string): Promise<boolean> {
    return (await this.client.set(reconcileLockKey(this.options.prefix), holder, "PX", ttlMs, "NX")) !== null;
  }

  /** The sweep's place between passes (one hash, one slot): null fields when never written. */
  async readSweepState(): Promise<{ since: number | null; cursor: string }> {
    const [since, cursor] = await this.client.hmget(reconcileStateKey(this.options.prefix), "since", "cursor");
    const sinceMs = since === null ? NaN : Number(since);
    return { since: Number.isFinite(sinceMs) ? sinceMs : null, cursor: cursor ?? "" };
  }

  async writeSweepState(state: { since: number; cursor: string }): Promise<void> {
    await this.client.hset(reconcileStateKey(this.options.prefix), { since: String(state.since), cursor: state.cursor });
  }

  /** SCAN has no key, so on a cluster it must go to the master that holds this environment's slot. */
  private async nodeHolding(key: string): Promise<Redis | Cluster> {
    const client = this.client;
    if (!(client instanceof Cluster)) return client;
    const slot = Number(await client.cluster("KEYSLOT", key));
    const nodeKey = client.slots[slot]?.[0];
    const node = client.nodes("master").find((n) => `${n.options.host}:${n.options.port}` === nodeKey);
    if (!node) throw new Error(`No master known for slot ${slot} of ${key}`);
    return node;
  }
}

let admin: TaskMetadataCacheAdmin | undefined;

/** The process's cache admin, on its own lazy connection to the cache's Redis. */
export function taskMetadataCacheAdmin(): TaskMetadataCacheAdmin {
  if (!admin) {
    const env = getEnv();
    const client = createRedisClient(env.taskMetaCacheRedis, redisProfiles.admin(), "task-meta-cache-admin");
    admin = new TaskMetadataCacheAdmin({ client, prefix: env.REDIS_KEY_PREFIX });
  }
  return admin;
}

export async function disconnectTaskMetadataCacheAdmin(): Promise<void> {
  const current = admin;
  admin = undefined;
  if (current) await closeClient(current.client);
}
