import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { isDatabaseUnavailable } from "~/domain/databaseOutage";
import { CONSUMER_GROUP, decodeBufferedRun, type BufferedRun, type ShardKeys } from "~/domain/triggerBuffer";
import { ATTR, SPAN } from "~/domain/traceAttributes";
import { getEnv } from "~/env.server";
import type { RedisClient } from "~/redis.server";
import { logger } from "~/services/logger.server";
import {
  allShardKeys,
  bufferCounters,
  noteBufferEmpty,
  noteDraining,
  readyBufferRedis,
  recordDrained,
} from "~/services/triggerBuffer/buffer.server";
import { insertBufferedChunk, type ChunkOutcome } from "~/services/triggerBuffer/drainSql.server";
import { inLinkedSpan, type SpanOptions } from "~/services/tracing.server";

/**
 * The drainer (docs/decisions/0060-trigger-buffer.md): every instance runs one, all in one
 * consumer group per stream. A tick reads a chunk — this consumer's own pending entries first (a
 * chunk whose insert failed), then a dead consumer's (XAUTOCLAIM after TRIGGER_BUFFER_CLAIM_IDLE_MS),
 * then new ones — inserts it in one transaction (ON CONFLICT DO NOTHING: a chunk inserted before
 * a crash is not inserted twice), and only after COMMIT acknowledges and deletes it.
 */

// Acknowledge, delete and unindex in one step, so a drained entry can never be read back as buffered.
const ACK = `
local n = tonumber(ARGV[2])
for i = 1, n do
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2 + i])
  redis.call('XDEL', KEYS[1], ARGV[2 + i])
end
for i = 3 + n, #ARGV do redis.call('HDEL', KEYS[2], ARGV[i]) end
return n`;

// An entry this version cannot decode moves to the shard's dead-letter stream, acknowledged in the same step.
const BURY = `
redis.call('XADD', KEYS[3], '*', 'entry', ARGV[2], 'run', ARGV[3])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1`;

type StreamEntry = [id: string, fields: string[] | null];

/** Links kept per drain span: enough to find the triggers, bounded whatever the chunk size. */
const DRAIN_LINKS = 32;

/** The drain span: linked to the triggers it writes (their stored traceparent), with what it did. */
function drainSpan(stream: string, runs: BufferedRun[]): SpanOptions<ChunkOutcome> {
  const links = new Set<string>();
  for (const run of runs) {
    if (links.size >= DRAIN_LINKS) break;
    if (run.traceparent) links.add(run.traceparent);
  }
  return {
    attributes: { [ATTR.bufferStream]: stream, [ATTR.count]: runs.length },
    links: [...links],
    onResult: (span, outcome) => span.setAttributes({ [ATTR.bufferInserted]: outcome.inserted, [ATTR.bufferAliased]: outcome.aliased }),
  };
}

export class TriggerBufferDrainer {
  readonly consumer = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = true;
  private readonly groups = new Set<string>();
  private failing = false;

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops after the chunk in progress (acknowledged or left pending, never half-done). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    await this.leaveGroups().catch((error) => logger.warn("drainer could not leave its consumer groups", { consumer: this.consumer, error }));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().then((delay) => {
        this.ticking = undefined;
        this.schedule(delay);
      });
    }, delayMs);
    this.timer.unref();
  }

  /** One pass over every shard; the delay before the next (none while there is work). */
  async tick(): Promise<number> {
    const interval = getEnv().TRIGGER_BUFFER_DRAIN_INTERVAL_MS;
    try {
      const redis = await readyBufferRedis();
      let moved = 0;
      let waiting = 0;
      for (const keys of allShardKeys()) {
        const length = await redis.xlen(keys.stream);
        waiting += length;
        if (length > 0) moved += await this.drainShard(redis, keys);
      }
      if (this.failing) logger.info("drainer recovered", { consumer: this.consumer });
      this.failing = false;
      if (waiting === 0) noteBufferEmpty();
      return moved > 0 ? 0 : interval;
    } catch (error) {
      // Postgres or Redis still down: the chunk stays pending with this consumer for the next try.
      if (!this.failing) logger.warn("drainer cannot drain yet; retrying", { consumer: this.consumer, unavailable: isDatabaseUnavailable(error), error });
      this.failing = true;
      return Math.min(interval, 200);
    }
  }

  /** Drains one chunk of one shard; how many entries it settled. */
  async drainShard(redis: RedisClient, keys: ShardKeys): Promise<number> {
    noteDraining();
    await this.ensureGroup(redis, keys.stream);
    const entries = await this.nextChunk(redis, keys.stream);
    if (entries.length === 0) return 0;
    const runs: BufferedRun[] = [];
    const settled: string[] = [];
    for (const [id, fields] of entries) {
      const text = fields ? fields[fields.indexOf("run") + 1] : undefined;
      const run = text ? decodeBufferedRun(text) : null;
      if (run) {
        runs.push(run);
        settled.push(id);
      } else if (text !== undefined) {
        logger.error("buffered trigger cannot be decoded; moved to the dead-letter stream", { stream: keys.stream, dead: keys.dead, entryId: id });
        await redis.eval(BURY, 3, keys.stream, keys.index, keys.dead, CONSUMER_GROUP, id, text);
      } else settled.push(id); // Deleted under us (a pending id without fields): only the acknowledgement is left.
    }
    const outcome = await inLinkedSpan(SPAN.bufferDrain, drainSpan(keys.stream, runs), () => insertBufferedChunk(runs));
    await redis.eval(ACK, 2, keys.stream, keys.index, CONSUMER_GROUP, String(settled.length), ...settled, ...runs.map((r) => r.friendlyId));
    bufferCounters.drained += outcome.inserted;
    bufferCounters.aliased += outcome.aliased;
    await recordDrained(redis, outcome.inserted + outcome.aliased).catch((error) =>
      logger.warn("drained count not recorded (admin drain rate only)", { stream: keys.stream, error }),
    );
    return entries.length;
  }

  private async nextChunk(redis: RedisClient, stream: string): Promise<StreamEntry[]> {
    const { TRIGGER_BUFFER_DRAIN_CHUNK: count, TRIGGER_BUFFER_CLAIM_IDLE_MS: idle } = getEnv();
    const read = async (id: string) => {
      const reply = (await redis.xreadgroup("GROUP", CONSUMER_GROUP, this.consumer, "COUNT", count, "STREAMS", stream, id)) as
        | [string, StreamEntry[]][]
        | null;
      return reply?.[0]?.[1] ?? [];
    };
    const own = await read("0");
    if (own.length > 0) return own;
    const claimed = (await redis.xautoclaim(stream, CONSUMER_GROUP, this.consumer, idle, "0-0", "COUNT", count)) as [string, StreamEntry[]];
    if (claimed[1].length > 0) return claimed[1];
    return read(">");
  }

  private async ensureGroup(redis: RedisClient, stream: string): Promise<void> {
    if (this.groups.has(stream)) return;
    try {
      await redis.xgroup("CREATE", stream, CONSUMER_GROUP, "0", "MKSTREAM");
    } catch (error) {
      if (!String((error as Error).message).includes("BUSYGROUP")) throw error;
    }
    this.groups.add(stream);
  }

  /** Removes this consumer from each group it joined, unless it still holds entries (another claims them later). */
  private async leaveGroups(): Promise<void> {
    if (this.groups.size === 0) return;
    const redis = await readyBufferRedis();
    for (const stream of this.groups) {
      const pending = (await redis.xpending(stream, CONSUMER_GROUP, "-", "+", 1, this.consumer)) as unknown[];
      if (pending.length === 0) await redis.xgroup("DELCONSUMER", stream, CONSUMER_GROUP, this.consumer);
    }
    this.groups.clear();
  }
}

let drainer: TriggerBufferDrainer | undefined;

/** Starts this process's drainer (lifecycle.server.ts); off with the buffer or a 0 interval. */
export function startTriggerBufferDrainer(): void {
  const env = getEnv();
  if (!env.TRIGGER_BUFFER_ENABLED || env.TRIGGER_BUFFER_DRAIN_INTERVAL_MS === 0) return;
  drainer ??= new TriggerBufferDrainer();
  drainer.start();
}

export async function stopTriggerBufferDrainer(): Promise<void> {
  const running = drainer;
  drainer = undefined;
  await running?.stop();
}
