import type { EnvironmentRef } from "~/domain/environments";
import type { TaskEntry } from "~/domain/taskMetadataEntry";
import {
  currentRule,
  lockedQueueName,
  lockedRule,
  type LockedRuleAnswer,
  type ResolveInput,
  type ResolvedRule,
} from "~/services/taskMetadata/resolver.server";
import type { LockedLookup, TaskMetadataSource } from "~/services/taskMetadata/sources.server";
import type { LockedRequest, LockedTaskRead, TaskMetadataStore } from "~/services/taskMetadata/store.server";

/**
 * The kinds of group a batch's items fall into (batchResolver.server.ts), and how each group is
 * answered: ONE cache read for the whole group, what missed in ONE Postgres statement, back-filled
 * in ONE script call. The rules applied to each item are the single resolver's (currentRule,
 * lockedRule). A new kind (say, items pinned to a deployment) is a key in {@link groupOf} and a
 * {@link GroupResolve}.
 */

/** An item that passed the checks made before any I/O (prepareInput). */
export interface PendingItem {
  index: number;
  input: ResolveInput;
  triggerTtlSeconds: number | undefined;
  override: string | undefined;
}

/** The rule of one item, or the error it fails with (a user error fails the item, anything else the batch). */
export type RuleOutcome = { ok: true; rule: ResolvedRule } | { ok: false; error: unknown };

export interface GroupIo {
  cache: TaskMetadataStore;
  source: TaskMetadataSource;
  /** Starts a back-fill off the request path (never awaited by the batch). */
  backfill(work: () => Promise<boolean>): void;
}

/** Answers one group's items: one outcome per item, in order. */
export type GroupResolve = (io: GroupIo, environment: EnvironmentRef, items: readonly PendingItem[]) => Promise<RuleOutcome[]>;

export interface Group {
  /** Items with the same key share one read. */
  key: string;
  /** The group's kind, for the batch resolve span (`hotpath.batch.groups`). */
  kind: "current" | "locked";
  resolve: GroupResolve;
}

const CURRENT: Group = { key: "current", kind: "current", resolve: resolveCurrentGroup };

/** The group of an item: the current hash, or the hash of the version it is locked to. */
export function groupOf(input: ResolveInput): Group {
  const version = input.lockToVersion;
  if (!version) return CURRENT;
  return { key: `locked\u0000${version}`, kind: "locked", resolve: (io, environment, items) => resolveLockedGroup(io, environment, version, items) };
}

function outcome(decide: () => ResolvedRule): RuleOutcome {
  try {
    return { ok: true, rule: decide() };
  } catch (error) {
    return { ok: false, error };
  }
}

// ---- not locked: the current hash ------------------------------------------------------------

async function resolveCurrentGroup(io: GroupIo, environment: EnvironmentRef, items: readonly PendingItem[]): Promise<RuleOutcome[]> {
  const entries = await currentEntries(io, environment, [...new Set(items.map(({ input }) => input.taskSlug))]);
  return items.map(({ input, override }) => {
    const { entry, fromDatabase } = entries.get(input.taskSlug)!;
    return outcome(() => currentRule(input.taskSlug, entry, override, fromDatabase));
  });
}

/** The current hash's entries of `slugs`: one cache read; the misses in one statement, back-filled in one call. */
async function currentEntries(io: GroupIo, environment: EnvironmentRef, slugs: string[]) {
  const entries = new Map<string, { entry: TaskEntry; fromDatabase: boolean }>();
  const cached = await io.cache.getCurrentTasks(environment.id, slugs);
  const missed = slugs.filter((slug, i) => {
    const entry = cached[i];
    if (entry) entries.set(slug, { entry, fromDatabase: false });
    return !entry;
  });
  if (missed.length === 0) return entries;
  const found = await io.source.findCurrentTasks(environment, missed);
  const fills = missed.map((slug, i) => ({ slug, entry: found.entries[i] }));
  for (const { slug, entry } of fills) entries.set(slug, { entry, fromDatabase: true });
  const { cache } = io;
  io.backfill(() => cache.backfillCurrentTasks(environment.id, found.workerId, fills));
  return entries;
}

// ---- locked: one version's hash ----------------------------------------------------------------

const requestKey = (slug: string, queueName: string | undefined) => (queueName === undefined ? `t\u0000${slug}` : `q\u0000${slug}\u0000${queueName}`);

/** Complete from the cache: the version known, the task read (absent included), the queue association found. */
const complete = (read: LockedTaskRead, queueName: string | undefined) =>
  read.workerId !== null && read.task !== null && (queueName === undefined || !!read.queueId);

async function resolveLockedGroup(io: GroupIo, environment: EnvironmentRef, version: string, items: readonly PendingItem[]): Promise<RuleOutcome[]> {
  const queueNames = items.map(({ input, override }) => lockedQueueName(input.taskSlug, override));
  const requests = new Map<string, LockedRequest>();
  items.forEach(({ input }, i) => requests.set(requestKey(input.taskSlug, queueNames[i]), { slug: input.taskSlug, queueName: queueNames[i] }));
  const answers = await lockedAnswers(io, environment.id, version, [...requests.values()]);
  return items.map(({ input }, i) => outcome(() => lockedRule(input, version, queueNames[i], answers.get(requestKey(input.taskSlug, queueNames[i])) ?? null)));
}

/** One read of the version's hash; what was missing, one statement (by the cached worker id when known) and one back-fill. */
async function lockedAnswers(io: GroupIo, environmentId: string, version: string, requests: LockedRequest[]) {
  const answers = new Map<string, LockedRuleAnswer | null>();
  const cached = await io.cache.getLockedTasks(environmentId, version, requests);
  const missed: LockedRequest[] = [];
  requests.forEach((request, i) => {
    const read = cached[i];
    if (!complete(read, request.queueName)) return missed.push(request);
    answers.set(requestKey(request.slug, request.queueName), { workerId: read.workerId!, entry: read.task!, queueId: read.queueId ?? null, fromDatabase: false });
  });
  if (missed.length === 0) return answers;
  const workerId = cached.find((read) => read.workerId !== null)?.workerId;
  const found = await io.source.findLockedTasks(environmentId, workerId ? { id: workerId } : { version }, missed);
  missed.forEach((request, i) => {
    const lookup = found?.[i];
    answers.set(requestKey(request.slug, request.queueName), lookup ? { workerId: lookup.workerId, entry: lookup.entry, queueId: lookup.overrideQueueId ?? null, fromDatabase: true } : null);
  });
  // Unknown versions are never cached: a version registered a moment later must not stay "unknown".
  if (found && found.length) scheduleLockedBackfill(io, environmentId, version, missed, found);
  return answers;
}

function scheduleLockedBackfill(io: GroupIo, environmentId: string, version: string, missed: LockedRequest[], found: LockedLookup[]) {
  const tasks = new Map<string, TaskEntry>();
  const queues = new Map<string, string>();
  missed.forEach(({ slug, queueName }, i) => {
    tasks.set(slug, found[i].entry);
    const queueId = found[i].overrideQueueId;
    if (queueName !== undefined && queueId) queues.set(queueName, queueId);
  });
  const { cache } = io;
  const fill = { tasks: [...tasks].map(([slug, entry]) => ({ slug, entry })), queues: [...queues].map(([name, id]) => ({ name, id })) };
  io.backfill(() => cache.backfillLocked(environmentId, version, found[0].workerId, fill));
}
