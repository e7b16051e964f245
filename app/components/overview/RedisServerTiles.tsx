import { EmptyState } from "~/components/EmptyState";
import { formatBytes } from "~/domain/redisInfo";
import type { CacheOverview } from "~/presenters/cacheOverview.server";
import { count, Section, Tile } from "./figures";

/** Memory, evictions, expirations and clients from INFO on the cache's Redis. */
export function RedisServerTiles({ redisServer }: { redisServer: CacheOverview["redisServer"] }) {
  return (
    <Section title="Cache Redis server" description="From INFO on the cache's Redis (summed over the masters of a cluster).">
      {redisServer ? (
        <div className="grid grid-cols-2 gap-3 md:grid-cols-4" data-testid="redis-server">
          <Tile
            label="Memory used / max"
            value={
              <>
                {formatBytes(redisServer.usedMemoryBytes)}{" "}
                <span className="text-base font-normal text-slate-500">/ {redisServer.maxMemoryBytes ? formatBytes(redisServer.maxMemoryBytes) : "no limit"}</span>
              </>
            }
            hint={`eviction policy ${redisServer.maxMemoryPolicy ?? "unknown"}`}
          />
          <Tile
            label="Evicted keys"
            value={count(redisServer.evictedKeys)}
            hint="since the server started"
            className={redisServer.evictedKeys ? "border-amber-200 bg-amber-50 text-amber-700" : undefined}
          />
          <Tile label="Expired keys" value={count(redisServer.expiredKeys)} hint="since the server started" />
          <Tile
            label="Connected clients"
            value={count(redisServer.connectedClients)}
            hint={`Redis ${redisServer.version ?? "?"}${redisServer.nodes > 1 ? ` · ${redisServer.nodes} masters` : ""}`}
          />
        </div>
      ) : (
        <EmptyState title="Redis server figures unavailable">The cache&apos;s Redis did not answer INFO; see the notice above.</EmptyState>
      )}
    </Section>
  );
}
