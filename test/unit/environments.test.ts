import { describe, expect, it } from "vitest";
import { currentWorkerOf, ENVIRONMENT_TYPES, isEnvironmentId, TRIGGER_SOURCES } from "~/domain/environments";

describe("the current worker of preloaded rows", () => {
  const rows = { latest: { id: "w-latest" }, promoted: { id: "w-promoted" } };

  it("is the latest registered worker in DEVELOPMENT, whatever was promoted", () => {
    expect(currentWorkerOf({ type: "DEVELOPMENT" }, rows)).toEqual({ id: "w-latest" });
  });

  it("is the promoted worker everywhere else, even when a newer one is registered", () => {
    for (const type of ["STAGING", "PRODUCTION", "PREVIEW"] as const) {
      expect(currentWorkerOf({ type }, rows)).toEqual({ id: "w-promoted" });
    }
  });

  it("is null when there is none", () => {
    expect(currentWorkerOf({ type: "PRODUCTION" }, { latest: rows.latest, promoted: undefined })).toBeNull();
    expect(currentWorkerOf({ type: "DEVELOPMENT" }, { latest: null, promoted: rows.promoted })).toBeNull();
  });
});

describe("environment words", () => {
  it("environment types and trigger sources are the schema's", () => {
    expect(ENVIRONMENT_TYPES).toEqual(["DEVELOPMENT", "STAGING", "PRODUCTION", "PREVIEW"]);
    expect(TRIGGER_SOURCES).toEqual(["STANDARD", "SCHEDULED", "AGENT"]);
  });

  it("an environment id has no braces (hash tags), no whitespace (pub/sub messages) and at most 128 characters", () => {
    expect(isEnvironmentId("cmabc123")).toBe(true);
    for (const bad of ["", "a{b", "a}b", "a b", "a\nb", "x".repeat(129)]) expect(isEnvironmentId(bad)).toBe(false);
  });
});
