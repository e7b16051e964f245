import { describe, expect, it } from "vitest";
import { BadRequestError } from "~/domain/errors";
import { contentIdentity, normaliseTasks, workerSnapshot } from "~/domain/workerTasks";

describe("normaliseTasks", () => {
  it("spells TTLs canonically, sanitises queue names and defaults the kind", () => {
    const [task] = normaliseTasks([{ slug: "email", queue: { name: "Emails!", concurrencyLimit: 5 }, ttl: 3600 }]);
    expect(task).toMatchObject({ slug: "email", concurrencyLimit: 5, triggerSource: "STANDARD" });
    expect(task.ttl).toBe(normaliseTasks([{ slug: "x", ttl: "1h" }])[0].ttl);
    expect(task.queueName).not.toContain("!");
  });

  it("refuses an empty slug, a repeated slug and a negative or fractional concurrency limit, naming the field", () => {
    const field = (tasks: Parameters<typeof normaliseTasks>[0]) => {
      try {
        normaliseTasks(tasks);
      } catch (error) {
        expect(error).toBeInstanceOf(BadRequestError);
        return (error as Error).message;
      }
      throw new Error("accepted");
    };
    expect(field([{ slug: " " }])).toContain("tasks[0].slug");
    expect(field([{ slug: "a" }, { slug: "a" }])).toContain("tasks[1].slug 'a' appears more than once");
    expect(field([{ slug: "a", queue: { name: "q", concurrencyLimit: -1 } }])).toContain("concurrencyLimit");
    expect(field([{ slug: "a", queue: { name: "q", concurrencyLimit: 1.5 } }])).toContain("concurrencyLimit");
  });
});

describe("contentIdentity", () => {
  it("is the client's contentHash when given, else a hash of the task list that ignores its order", () => {
    const a = normaliseTasks([{ slug: "a", ttl: "5m" }, { slug: "b" }]);
    const b = normaliseTasks([{ slug: "b" }, { slug: "a", ttl: 300 }]);
    expect(contentIdentity("client-hash", a)).toBe("client-hash");
    expect(contentIdentity(null, a)).toBe(contentIdentity(undefined, b));
    expect(contentIdentity(null, a)).toMatch(/^tasks-sha256:[0-9a-f]{64}$/);
    expect(contentIdentity(null, normaliseTasks([{ slug: "a", ttl: "6m" }, { slug: "b" }]))).not.toBe(contentIdentity(null, a));
  });
});

describe("workerSnapshot", () => {
  it("gives each task its queue when the queue has an id, and lists only the queues used", () => {
    const tasks = normaliseTasks([{ slug: "a", queue: { name: "q1" } }, { slug: "b", queue: { name: "q2" } }, { slug: "c" }]);
    const snapshot = workerSnapshot("w1", "v1", tasks, new Map([["q1", "queue-1"]]));
    expect(snapshot.queues).toEqual([{ name: "q1", id: "queue-1" }]);
    expect(snapshot.tasks.map((t) => [t.slug, t.entry.queueId, t.entry.queueName])).toEqual([
      ["a", "queue-1", "q1"],
      ["b", null, null],
      ["c", null, null],
    ]);
  });
});
