import { describe, expect, it } from "vitest";
import { SingleFlight } from "~/domain/singleFlight";

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("single-flight", () => {
  it("concurrent calls with one key share one run and its result", async () => {
    const flights = new SingleFlight();
    const gate = deferred<{ answer: number }>();
    let runs = 0;
    const work = () => {
      runs += 1;
      return gate.promise;
    };
    const calls = Array.from({ length: 50 }, () => flights.run("k", work));
    expect(runs).toBe(1);
    expect(flights.size).toBe(1);
    gate.resolve({ answer: 42 });
    const results = await Promise.all(calls);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toEqual({ answer: 42 });
  });

  it("different keys run independently", async () => {
    const flights = new SingleFlight();
    let runs = 0;
    const work = async (value: string) => {
      runs += 1;
      return value;
    };
    expect(await Promise.all([flights.run("a", () => work("a")), flights.run("b", () => work("b"))])).toEqual(["a", "b"]);
    expect(runs).toBe(2);
  });

  it("a settled result is not cached: the next call runs again", async () => {
    const flights = new SingleFlight();
    let runs = 0;
    const work = async () => ++runs;
    expect(await flights.run("k", work)).toBe(1);
    expect(flights.size).toBe(0);
    expect(await flights.run("k", work)).toBe(2);
  });

  it("an error reaches every waiting caller once and is not remembered", async () => {
    const flights = new SingleFlight();
    const gate = deferred<string>();
    let runs = 0;
    const failing = () => {
      runs += 1;
      return gate.promise;
    };
    const calls = Array.from({ length: 10 }, () => flights.run("k", failing).then(() => "resolved", (e: unknown) => e));
    const outage = new Error("database down");
    gate.reject(outage);
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 10 }, () => outage));
    expect(runs).toBe(1);
    expect(flights.size).toBe(0);
    expect(await flights.run("k", async () => "recovered")).toBe("recovered");
  });
});
