import { describe, expect, it } from "vitest";
import { decodedPayload, retrieveRunView, statusFlags, type StoredRun } from "~/domain/runView";

/** Stored runs in the SDK's shapes. */

const run: StoredRun = {
  friendlyId: "run_1",
  status: "DELAYED",
  taskIdentifier: "t",
  idempotencyKey: null,
  version: null,
  isTest: false,
  createdAt: new Date("2026-11-27T12:00:00Z"),
  updatedAt: new Date("2026-11-27T12:00:00Z"),
  delayUntil: new Date("2026-11-27T13:00:00Z"),
  ttl: null,
  expiredAt: null,
  canceledAt: null,
  tags: [],
  metadata: null,
  taskKind: "STANDARD",
  region: null,
  payload: '{"a":1}',
  payloadType: "application/json",
};

describe("runView", () => {
  it("omits absent optional fields instead of sending null (the SDK's schemas refuse null)", () => {
    const view = retrieveRunView(run);
    for (const key of ["idempotencyKey", "version", "ttl", "expiredAt", "finishedAt", "metadata", "region"]) expect(view).not.toHaveProperty(key);
    expect(view).toMatchObject({ delayedUntil: "2026-11-27T13:00:00.000Z", payload: { a: 1 }, attemptCount: 0, relatedRuns: {}, depth: 0 });
  });

  it("decodes JSON and super+json packets; plain values pass through", () => {
    expect(decodedPayload('{"a":1}', "application/json")).toEqual({ a: 1 });
    expect(decodedPayload('{"json":{"a":1},"meta":{}}', "application/super+json")).toEqual({ a: 1 });
    expect(decodedPayload({ a: 1 }, "application/json")).toEqual({ a: 1 });
    expect(decodedPayload("not json", "application/json")).toBe("not json");
    expect(decodedPayload(null, "application/json")).toBeUndefined();
  });

  it("status flags", () => {
    expect(statusFlags("PENDING_VERSION")).toMatchObject({ isQueued: true, isCompleted: false });
    expect(statusFlags("EXPIRED")).toMatchObject({ isQueued: false, isCompleted: true, isFailed: true, isSuccess: false });
    expect(statusFlags("CANCELED")).toMatchObject({ isCompleted: true, isCancelled: true });
  });
});
