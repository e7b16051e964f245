import { Counter, Gauge, type Registry } from "prom-client";
import { logger } from "~/services/logger.server";
import { bufferCounters, bufferStats } from "~/services/triggerBuffer/buffer.server";

/**
 * The trigger buffer on /metrics: depth and oldest age are read from Redis when scraped (the
 * buffer is shared by every instance, so any instance answers for all); the counters are this
 * process's. Labels are bounded (the rejection reason only).
 */
export function registerTriggerBufferMetrics(registry: Registry): void {
  let failing = false;
  const stats = async () => {
    try {
      const value = await bufferStats();
      failing = false;
      return value;
    } catch (error) {
      if (!failing) logger.warn("trigger buffer metrics unavailable: redis", { error });
      failing = true;
      return null;
    }
  };
  new Gauge({
    name: "hotpath_trigger_buffer_depth",
    help: "Triggers waiting in the buffer (every stream, every instance); -1 when Redis cannot be read.",
    registers: [registry],
    async collect() {
      const value = await stats();
      this.set(value ? value.depth : -1);
    },
  });
  new Gauge({
    name: "hotpath_trigger_buffer_oldest_age_seconds",
    help: "Age of the oldest buffered trigger; 0 when the buffer is empty.",
    registers: [registry],
    async collect() {
      const value = await stats();
      this.set(value ? value.oldestAgeMs / 1000 : 0);
    },
  });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter("hotpath_trigger_buffer_buffered_total", "Triggers this process buffered while Postgres could not take the insert.", () => bufferCounters.buffered);
  counter("hotpath_trigger_buffer_drained_total", "Buffered runs this process inserted into Postgres.", () => bufferCounters.drained);
  counter("hotpath_trigger_buffer_aliased_total", "Buffered runs whose key another run already held (recorded as aliases).", () => bufferCounters.aliased);
  new Counter({
    name: "hotpath_trigger_buffer_rejected_total",
    help: "Triggers answered 503 because they could not be buffered, by reason (full, redis, not_cached).",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ reason: "full" }, bufferCounters.rejectedFull);
      this.inc({ reason: "redis" }, bufferCounters.rejectedRedis);
      this.inc({ reason: "not_cached" }, bufferCounters.rejectedNotCached);
    },
  });
}
