import { createHash } from "node:crypto";
import { ABSENT_TASK, encodeTaskEntry, type TaskMetadata } from "~/domain/taskMetadataEntry";

/**
 * An order-free digest of a current hash's task entries, computed the same way in Redis (a Lua
 * script over HGETALL, so the contents never cross the network) and in Node (over the entries the
 * write path would store from Postgres). Equal digests mean equal contents; only a mismatch makes
 * the sweep read and compare the hash field by field (docs/decisions/0080-drift-by-digest.md).
 *
 * Each field contributes sha1("<field>\n<value>"); the five 32-bit words of those sha1s are XORed
 * word by word. XOR needs no sort (Lua's string order follows the server's locale), and a hash
 * never holds a field twice, so nothing cancels out. Negative entries are left out: a negative
 * entry is correct exactly when the field is not one of the worker's tasks, which the positive
 * digest already pins (all tasks present and equal → every other field is a non-task).
 */

export const NEGATIVE_ENTRY = encodeTaskEntry(ABSENT_TASK);
const WORDS = 5;

export interface HashDigest {
  /** 40 hex characters: the XOR of each counted field's SHA-1 (a content checksum, not a secret). */
  checksum: string;
  /** Positive entries counted. */
  entries: number;
}

/** The Lua twin of {@link digestEntries}: KEYS[1] is the hash; returns { checksum, entries }. */
export const DIGEST_SCRIPT = `
local flat = redis.call('HGETALL', KEYS[1])
local acc = {0, 0, 0, 0, 0}
local n = 0
for i = 1, #flat, 2 do
  local value = flat[i + 1]
  if value ~= ARGV[1] then
    local h = redis.sha1hex(flat[i] .. '\\n' .. value)
    for w = 1, 5 do
      acc[w] = bit.bxor(acc[w], tonumber(string.sub(h, 8 * w - 7, 8 * w), 16))
    end
    n = n + 1
  end
end
local out = {}
for w = 1, 5 do out[w] = bit.tohex(acc[w]) end
return { table.concat(out), n }
`;

export function digestEntries(entries: Iterable<readonly [field: string, value: string]>): HashDigest {
  const acc = new Array<number>(WORDS).fill(0);
  let count = 0;
  for (const [field, value] of entries) {
    if (value === NEGATIVE_ENTRY) continue;
    const h = createHash("sha1").update(`${field}\n${value}`).digest("hex");
    for (let w = 0; w < WORDS; w++) acc[w] ^= parseInt(h.slice(8 * w, 8 * w + 8), 16) | 0;
    count++;
  }
  return { checksum: acc.map((word) => (word >>> 0).toString(16).padStart(8, "0")).join(""), entries: count };
}

/** The digest the current hash has when it holds exactly the worker's tasks as Postgres has them. */
export function expectedDigest(tasks: readonly { slug: string; entry: TaskMetadata }[]): HashDigest {
  return digestEntries(tasks.map((t) => [t.slug, encodeTaskEntry(t.entry)] as const));
}
