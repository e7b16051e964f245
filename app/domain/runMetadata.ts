import { z } from "zod";

/**
 * `PUT /api/v1/runs/:id/metadata` as the SDK sends it (`FlushedRunMetadata`): a whole new
 * `metadata` object and/or a list of `operations` applied in order. Keys are top-level names or
 * JSON paths below `$` (`$.progress.step`). Parent and root operations are accepted and ignored:
 * Hotpath runs have no parents.
 */

const FORBIDDEN_SEGMENTS = new Set(["__proto__", "constructor", "prototype"]);

/** A key's path segments: `"a"` → `["a"]`, `"$.a.b"` → `["a", "b"]`. */
export function keyPath(key: string): string[] {
  return key.startsWith("$.") ? key.slice(2).split(".") : [key];
}

const Key = z
  .string()
  .min(1, "must not be empty")
  .max(256)
  .refine((key) => key !== "$" && keyPath(key).every((s) => s !== ""), "A JSON path key must name a segment below $")
  .refine((key) => keyPath(key).every((s) => !FORBIDDEN_SEGMENTS.has(s)), "Metadata key may not reference __proto__, constructor, or prototype");

const Operation = z.discriminatedUnion("type", [
  z.object({ type: z.literal("update"), value: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal("set"), key: Key, value: z.unknown() }),
  z.object({ type: z.literal("delete"), key: Key }),
  z.object({ type: z.literal("append"), key: Key, value: z.unknown() }),
  z.object({ type: z.literal("remove"), key: Key, value: z.unknown() }),
  z.object({ type: z.literal("increment"), key: Key, value: z.number().finite() }),
]);
export type MetadataOperation = z.output<typeof Operation>;

export const UpdateMetadataBody = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  operations: z.array(Operation).max(1_000).optional(),
  parentOperations: z.array(Operation).max(1_000).optional(),
  rootOperations: z.array(Operation).max(1_000).optional(),
});
export type UpdateMetadataBody = z.output<typeof UpdateMetadataBody>;

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The object holding the last segment, created along the way (a non-object in the way is replaced). */
function parentOf(root: Json, path: string[]): Json {
  let node = root;
  for (const segment of path.slice(0, -1)) {
    if (!isRecord(node[segment])) node[segment] = {};
    node = node[segment] as Json;
  }
  return node;
}

function applyOne(root: Json, op: MetadataOperation): Json {
  if (op.type === "update") return structuredClone(op.value);
  const path = keyPath(op.key);
  const parent = parentOf(root, path);
  const last = path[path.length - 1];
  const current = parent[last];
  switch (op.type) {
    case "set":
      parent[last] = op.value;
      break;
    case "delete":
      delete parent[last];
      break;
    case "append":
      parent[last] = Array.isArray(current) ? [...current, op.value] : current === undefined ? [op.value] : [current, op.value];
      break;
    case "remove":
      if (Array.isArray(current)) parent[last] = current.filter((item) => JSON.stringify(item) !== JSON.stringify(op.value));
      break;
    case "increment":
      parent[last] = (typeof current === "number" ? current : 0) + op.value;
      break;
  }
  return root;
}

/** The run's new metadata: `body.metadata` (or the current one) with the operations applied in order. */
export function applyMetadataUpdate(current: unknown, body: UpdateMetadataBody): Json {
  let next: Json = structuredClone(body.metadata ?? (isRecord(current) ? current : {}));
  for (const op of body.operations ?? []) next = applyOne(next, op);
  return next;
}
