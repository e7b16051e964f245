import type { CacheEventSink, Keyspace } from "~/domain/cacheEvents";
import type { Decoded } from "~/domain/taskMetadataEntry";
import type { Outcome, RepeatedErrorLog } from "~/services/taskMetadata/failOpen.server";
import { TaskMetadataCacheError } from "~/services/taskMetadata/store.server";

/** The Redis store's reads decoded: each answer counted (hit, negative hit, miss, decode error) and each distinct stored value decoded once. */
export class StoredValues {
  constructor(
    private readonly events: CacheEventSink,
    private readonly errorLog: RepeatedErrorLog,
  ) {}

  private readonly decodedValues = new WeakMap<object, Map<string, unknown>>();

  /**
   * Decodes each distinct stored value once. Stored values are few (one per task, queue and
   * version of the workers in use) and the same ones come back on every hit, while JSON.parse and
   * the zod check cost a third of a warm read's CPU beyond the HGET itself (scripts/bench.ts,
   * `cpu/call`). Results are frozen, since every reader shares them. Only successful decodes are
   * kept: a bad value is decoded, counted and logged again on each read until a back-fill
   * overwrites it.
   */
  private decodeOnce<T>(decode: (raw: string) => Decoded<T>, raw: string): Decoded<T> {
    let byRaw = this.decodedValues.get(decode) as Map<string, T> | undefined;
    if (!byRaw) this.decodedValues.set(decode, (byRaw = new Map<string, T>()));
    const known = byRaw.get(raw);
    if (known !== undefined) return { ok: true, value: known };
    const decoded = decode(raw);
    if (decoded.ok) {
      // Bounded without bookkeeping: refilling costs one decode per value.
      if (byRaw.size >= 10_000) byRaw.clear();
      byRaw.set(raw, Object.freeze(decoded.value));
    }
    return decoded;
  }

  decodeRead<T>(
    keyspace: Keyspace,
    raw: Outcome<string | null>,
    decode: (raw: string) => Decoded<T>,
    context: Record<string, unknown>,
    isNegative: (value: T) => boolean = () => false,
  ): T | null {
    if (!raw.ok || raw.value === null) {
      this.events.record("miss", keyspace);
      return null;
    }
    const decoded = this.decodeOnce(decode, raw.value);
    if (!decoded.ok) {
      this.events.record("decode_error", keyspace);
      this.events.record("miss", keyspace);
      this.errorLog.warn("decode", new TaskMetadataCacheError(decoded.error), context);
      return null;
    }
    this.events.record(isNegative(decoded.value) ? "negative_hit" : "hit", keyspace);
    return decoded.value;
  }
}
