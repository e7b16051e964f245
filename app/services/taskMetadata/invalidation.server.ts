import { SpanKind } from "@opentelemetry/api";
import type { Redis } from "ioredis";
import { isEnvironmentId } from "~/domain/environments";
import { SPAN } from "~/domain/traceAttributes";
import type { RedisConnectionConfig } from "~/env.server";
import { closeClient, whenReady, type RedisClient } from "~/redis.server";
import { logger } from "~/services/logger.server";
import { inLinkedSpan } from "~/services/tracing.server";

/**
 * Cross-instance invalidation of the in-process tier (docs/operations.md, "Invalidation channel";
 * docs/decisions/0020-in-process-tier-and-pub-sub-invalidation.md).
 *
 * Every replace of an environment's current hash (promotion, dev registration, admin rebuild,
 * invalidate, field delete) is followed by a PUBLISH of the environment id on one channel,
 * `${prefix}task-meta:invalidate` by default. Every instance keeps a dedicated subscriber
 * connection and drops that environment's in-process entries on receipt.
 *
 * Pub/sub delivers at most once and only to connected subscribers, so the subscriber tells the
 * tier when it cannot vouch for it: from start-up until SUBSCRIBE is confirmed, and from the moment
 * the connection closes, ends or errors until a new SUBSCRIBE is confirmed, the tier is flushed and
 * bypassed (reads go to Redis). A message lost some other way costs at most the tier's TTL.
 */

export function defaultInvalidationChannel(prefix: string): string {
  return `${prefix}task-meta:invalidate`;
}

/** What the subscriber drives: the in-process tier. */
export interface InvalidationTarget {
  invalidateEnvironment(environmentId: string): void;
  setLive(live: boolean): void;
}

/**
 * Tells every instance that `environmentId`'s current hash changed. Never throws: the change is
 * already committed, and an instance that misses the message serves the old entries for at most
 * its tier's TTL. Returns whether Redis accepted the message.
 */
export async function publishInvalidation(
  client: RedisClient,
  channel: string,
  environmentId: string,
  timeoutMs = 2_000,
): Promise<boolean> {
  return inLinkedSpan(SPAN.invalidationPublish, messagingSpan(channel, SpanKind.PRODUCER), () => publish(client, channel, environmentId, timeoutMs));
}

/** Messaging conventions: Redis pub/sub on a configured (bounded) channel. */
function messagingSpan(channel: string, kind: SpanKind) {
  return { kind, attributes: { "messaging.system": "redis", "messaging.destination.name": channel } };
}

async function publish(client: RedisClient, channel: string, environmentId: string, timeoutMs: number): Promise<boolean> {
  try {
    if (!(await whenReady(client, timeoutMs))) throw new Error(`not connected within ${timeoutMs} ms`);
    await client.publish(channel, environmentId);
    return true;
  } catch (error) {
    logger.warn("publishing a task metadata invalidation failed; other instances keep their in-process entries until the TTL", {
      channel,
      environmentId,
      error,
    });
    return false;
  }
}

/**
 * Where the subscriber connects. A cluster broadcasts PUBLISH to every node, so the subscriber is a
 * plain connection to one seed node (ioredis' Cluster would move its subscription between nodes
 * without telling us, and a drop we are not told about is exactly what the tier must not miss);
 * each new connection tries the next seed node.
 */
export function subscriberConnection(config: RedisConnectionConfig, attempt: number): RedisConnectionConfig {
  const nodes = config.clusterNodes;
  if (!nodes?.length) return config;
  const node = nodes[attempt % nodes.length];
  return { ...config, url: undefined, clusterNodes: undefined, host: node.host, port: node.port };
}

export interface InvalidationSubscriberOptions {
  channel: string;
  target: InvalidationTarget;
  /**
   * A new connection (not yet connected) for each connection cycle; `attempt` counts them. It
   * should give up reconnecting after a few tries (`retryStrategy` returning null) so the next
   * cycle can try another node.
   */
  createClient: (attempt: number) => Redis;
  /** Pause before a new connection after the previous one gave up. */
  reconnectDelayMs?: number;
}

export class InvalidationSubscriber {
  private client: Redis | undefined;
  private attempts = 0;
  private subscribed = false;
  private everSubscribed = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: InvalidationSubscriberOptions) {}

  get channel(): string {
    return this.options.channel;
  }

  /** True once SUBSCRIBE is confirmed on the current connection, until that connection drops. */
  get isSubscribed(): boolean {
    return this.subscribed;
  }

  /** The connection's name as CLIENT LIST shows it (tests kill it by name). */
  get connectionName(): string | undefined {
    return this.client?.options.connectionName;
  }

  start(): void {
    if (this.client || this.closed) return;
    this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    this.lost("closed");
    if (!client) return;
    await closeClient(client);
  }

  private connect(): void {
    const client = this.options.createClient(this.attempts++);
    this.client = client;
    const current = () => this.client === client;
    client.on("ready", () => {
      if (current()) this.subscribe(client);
    });
    client.on("close", () => {
      if (current()) this.lost("connection closed");
    });
    client.on("error", () => {
      // createRedisClient logs the error. A connection that errors yet stays up gets a fresh
      // start; one that is going down reports close/end next.
      if (!current()) return;
      this.lost("connection error");
      if (client.status === "ready") client.disconnect(true);
    });
    client.on("end", () => {
      if (!current()) return;
      this.lost("connection ended");
      this.client = undefined;
      if (this.closed) return;
      this.retryTimer = setTimeout(() => this.connect(), this.options.reconnectDelayMs ?? 1_000);
      this.retryTimer.unref();
    });
    client.on("message", (channel: string, message: string) => this.receive(channel, message));
    // A failed connect is reported through the events above.
    client.connect().catch(() => {});
  }

  private subscribe(client: Redis): void {
    client.subscribe(this.options.channel).then(
      () => {
        // Confirmed on the connection that is still ours and still up: from now on no message is missed.
        if (this.client !== client || client.status !== "ready" || this.subscribed) return;
        this.subscribed = true;
        this.options.target.setLive(true);
        if (this.everSubscribed) logger.info("task metadata invalidation channel resubscribed; in-process tier back on", { channel: this.options.channel });
        this.everSubscribed = true;
      },
      (error: unknown) => {
        if (this.client !== client) return;
        logger.warn("subscribing to the task metadata invalidation channel failed; reconnecting", { channel: this.options.channel, error });
        client.disconnect(true);
      },
    );
  }

  private lost(reason: string): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    this.options.target.setLive(false);
    if (!this.closed) {
      logger.warn("task metadata invalidation channel lost; in-process tier flushed and bypassed until resubscribed", {
        channel: this.options.channel,
        reason,
      });
    }
  }

  private receive(channel: string, message: string): void {
    if (channel !== this.options.channel) return;
    if (!isEnvironmentId(message)) {
      logger.warn("ignoring a malformed task metadata invalidation message", { channel, message: message.slice(0, 200) });
      return;
    }
    void inLinkedSpan(SPAN.invalidationReceive, messagingSpan(channel, SpanKind.CONSUMER), async () =>
      this.options.target.invalidateEnvironment(message),
    );
  }
}
