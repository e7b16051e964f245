import { describe, expect, it } from "vitest";
import type { RedisConnectionConfig } from "~/env.server";
import { defaultInvalidationChannel, subscriberConnection } from "~/services/taskMetadata/invalidation.server";

describe("the invalidation channel", () => {
  it("lives under the key prefix by default", () => {
    expect(defaultInvalidationChannel("tr:")).toBe("tr:task-meta:invalidate");
  });
});

describe("where the subscriber connects", () => {
  const standalone: RedisConnectionConfig = { url: "redis://cache:6380", host: "127.0.0.1", port: 6379, tls: false };

  it("a single Redis: the cache's own connection settings, every time", () => {
    expect(subscriberConnection(standalone, 0)).toBe(standalone);
    expect(subscriberConnection(standalone, 7)).toBe(standalone);
  });

  it("a cluster: a plain connection to one seed node, the next one on each new attempt", () => {
    const cluster: RedisConnectionConfig = {
      ...standalone,
      password: "secret",
      clusterNodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
      ],
    };
    const nodes = [0, 1, 2].map((attempt) => subscriberConnection(cluster, attempt));
    expect(nodes.map((n) => `${n.host}:${n.port}`)).toEqual(["10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.1:7000"]);
    for (const node of nodes) expect(node).toMatchObject({ url: undefined, clusterNodes: undefined, password: "secret" });
  });
});
