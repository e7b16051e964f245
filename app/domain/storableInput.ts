/**
 * What a client may send that JSON allows but storage does not. Postgres text and jsonb reject NUL
 * (U+0000) and jsonb rejects unpaired UTF-16 surrogates (`"\ud800"`), both of which JSON.parse
 * happily produces; Prisma refuses lone surrogates in any query parameter; and JSON.stringify
 * overflows the stack a few thousand levels deep (Postgres's jsonb parser at ~50,000). Found by
 * test/integration/api.fuzz.test.ts: each was a 500 for a client's input. The API checks request
 * bodies and path parameters with these functions and answers 400 instead.
 */

/** Deeper than any real payload, far below where JSON.stringify or Postgres give up. */
export const MAX_JSON_DEPTH = 256;

// With the `u` flag a surrogate range matches only unpaired halves: a valid pair is one code point.
const UNSTORABLE = /\u0000|[\ud800-\udfff]/u;

/** Why `text` cannot be stored, or null when it can. */
export function unstorableText(text: string): string | null {
  const match = UNSTORABLE.exec(text);
  if (!match) return null;
  return match[0] === "\u0000" ? "contains a NUL character (\\u0000)" : "contains an unpaired UTF-16 surrogate";
}

export interface UnstorableJson {
  /** Where, as `a.b[2]` (`(root)` for the value itself). */
  path: string;
  problem: string;
}

function childPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  const name = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
  return parent ? `${parent}.${name}` : name;
}

/**
 * The first place in a parsed JSON value that cannot be stored — a string or object key with NUL
 * or an unpaired surrogate, a number beyond double range, or nesting deeper than `maxDepth` — or null. Iterative, so that the
 * check itself cannot overflow the stack on the inputs it exists to refuse.
 */
export function findUnstorableJson(value: unknown, maxDepth = MAX_JSON_DEPTH): UnstorableJson | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: "", depth: 0 }];
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    if (typeof current === "string") {
      const problem = unstorableText(current);
      if (problem) return { path: path || "(root)", problem };
      continue;
    }
    // 1e400 parses as Infinity, which JSON.stringify (and so storage) turns into null.
    if (typeof current === "number" && !Number.isFinite(current)) {
      return { path: path || "(root)", problem: "is a number outside the range that can be stored (beyond ±1.8e308)" };
    }
    if (typeof current !== "object" || current === null) continue;
    if (depth >= maxDepth) return { path: path || "(root)", problem: `is nested more than ${maxDepth} levels deep` };
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], path: childPath(path, i), depth: depth + 1 });
      continue;
    }
    for (const key of Object.keys(current)) {
      const keyProblem = unstorableText(key);
      if (keyProblem) return { path: path || "(root)", problem: `has a key that ${keyProblem}` };
      stack.push({ value: (current as Record<string, unknown>)[key], path: childPath(path, key), depth: depth + 1 });
    }
  }
  return null;
}
