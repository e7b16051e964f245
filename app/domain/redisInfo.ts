/**
 * The Redis server figures the cache overview shows, read from `INFO` replies. On a cluster each
 * master answers for itself; the figures are summed so the page shows the whole cache.
 */

/** `INFO` text → field map (`used_memory` → "1435696"); section headers and blank lines skipped. */
export function parseRedisInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}

export interface RedisServerFigures {
  /** Masters that answered (1 for a single server). */
  nodes: number;
  version: string | null;
  usedMemoryBytes: number;
  /** 0 = no limit configured. */
  maxMemoryBytes: number;
  maxMemoryPolicy: string | null;
  evictedKeys: number;
  expiredKeys: number;
  connectedClients: number;
}

function numberField(fields: Record<string, string>, name: string): number {
  const n = Number(fields[name]);
  return Number.isFinite(n) ? n : 0;
}

export function redisServerFigures(infos: Record<string, string>[]): RedisServerFigures {
  const sum = (name: string) => infos.reduce((total, fields) => total + numberField(fields, name), 0);
  // A limit on some masters only is no limit for the cluster as a whole.
  const maxMemoryBytes = infos.some((fields) => numberField(fields, "maxmemory") === 0) ? 0 : sum("maxmemory");
  return {
    nodes: infos.length,
    version: infos[0]?.redis_version ?? null,
    usedMemoryBytes: sum("used_memory"),
    maxMemoryBytes,
    maxMemoryPolicy: infos[0]?.maxmemory_policy ?? null,
    evictedKeys: sum("evicted_keys"),
    expiredKeys: sum("expired_keys"),
    connectedClients: sum("connected_clients"),
  };
}

/** Bytes in the binary units Redis itself prints (`1.37M`), written out as KiB/MiB/GiB. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}
