import { describe, expect, it } from "vitest";
import { environmentKeys, parseTaskMetaKey } from "~/domain/cacheKeys";
import { TriggerBody } from "~/domain/triggerOptions";
import { prepareInput } from "~/services/taskMetadata/resolver.server";

/** The pure pieces of version skew: the pinned key, the trigger option, and the lock-or-pin rule. */

describe("the pinned key", () => {
  it("sits in the environment's hash tag whatever the external id holds, and parses back", () => {
    const keys = environmentKeys("tr:", "env1");
    const key = keys.pinned("sha{x}:1");
    expect(key).toBe("tr:task-meta:{env1}:pinned:sha{x}:1");
    expect(parseTaskMetaKey("tr:", key)).toEqual({ environmentId: "env1", kind: "pinned", id: "sha{x}:1" });
    expect(() => keys.pinned("")).toThrow("external deployment id must be non-empty");
  });
});

describe("options.externalDeploymentId", () => {
  const parse = (value: unknown) => TriggerBody.parse({ options: { externalDeploymentId: value } }).options?.externalDeploymentId;

  it("is trimmed; blank and null (the SDK's opt-out) are absent; over 128 characters is refused", () => {
    expect(parse("  abc123 ")).toBe("abc123");
    expect(parse("   ")).toBeUndefined();
    expect(parse(null)).toBeUndefined();
    expect(TriggerBody.safeParse({ options: { externalDeploymentId: "x".repeat(129) } }).success).toBe(false);
  });

  it("with lockToVersion is a 400 before any I/O", () => {
    const environment = { id: "env1", type: "PRODUCTION" as const };
    expect(() => prepareInput({ environment, taskSlug: "t", lockToVersion: "1", externalDeploymentId: "sha" })).toThrow(
      expect.objectContaining({ status: 400, message: expect.stringContaining("cannot be used together") }),
    );
    expect(() => prepareInput({ environment, taskSlug: "t", externalDeploymentId: "sha" })).not.toThrow();
  });
});
