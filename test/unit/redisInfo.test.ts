import { describe, expect, it } from "vitest";
import { formatBytes, parseRedisInfo, redisServerFigures } from "~/domain/redisInfo";

const INFO = [
  "# Server",
  "redis_version:7.0.15",
  "",
  "# Clients",
  "connected_clients:3",
  "# Memory",
  "used_memory:1435696",
  "used_memory_human:1.37M",
  "maxmemory:0",
  "maxmemory_policy:noeviction",
  "# Stats",
  "expired_keys:12",
  "evicted_keys:0",
  "# Keyspace",
  "db0:keys=5,expires=2,avg_ttl=0",
].join("\r\n");

describe("Redis INFO figures", () => {
  it("parses fields, skipping section headers, and keeps values containing colons", () => {
    const fields = parseRedisInfo(INFO + "\r\nexecutable:/usr/bin/redis-server\r\n");
    expect(fields.redis_version).toBe("7.0.15");
    expect(fields.used_memory).toBe("1435696");
    expect(fields.db0).toBe("keys=5,expires=2,avg_ttl=0");
    expect(fields.executable).toBe("/usr/bin/redis-server");
    expect(Object.keys(fields).some((k) => k.startsWith("#"))).toBe(false);
  });

  it("reports one server's memory, limit, evictions, expirations and clients", () => {
    expect(redisServerFigures([parseRedisInfo(INFO)])).toEqual({
      nodes: 1,
      version: "7.0.15",
      usedMemoryBytes: 1435696,
      maxMemoryBytes: 0,
      maxMemoryPolicy: "noeviction",
      evictedKeys: 0,
      expiredKeys: 12,
      connectedClients: 3,
    });
  });

  it("sums a cluster's masters, and has no limit if any master has none", () => {
    const a = { used_memory: "100", maxmemory: "1000", evicted_keys: "2", expired_keys: "1", connected_clients: "4" };
    const b = { used_memory: "50", maxmemory: "1000", evicted_keys: "3", expired_keys: "0", connected_clients: "1" };
    expect(redisServerFigures([a, b])).toMatchObject({ nodes: 2, usedMemoryBytes: 150, maxMemoryBytes: 2000, evictedKeys: 5, connectedClients: 5 });
    expect(redisServerFigures([a, { ...b, maxmemory: "0" }]).maxMemoryBytes).toBe(0);
  });

  it("treats missing or garbled numbers as zero rather than NaN", () => {
    expect(redisServerFigures([{ used_memory: "lots" }])).toMatchObject({ usedMemoryBytes: 0, evictedKeys: 0, version: null });
  });

  it("formats bytes in binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1435696)).toBe("1.37 MiB");
    expect(formatBytes(512 * 1024 * 1024)).toBe("512.0 MiB");
  });
});
