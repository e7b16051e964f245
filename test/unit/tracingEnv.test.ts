import { describe, expect, it } from "vitest";
import { EnvError, parseEnv } from "~/env.server";

/** app/env.server.ts: the standard OTEL_* variables become one tracing configuration (or null: off). */

const BASE = {
  DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/hotpath",
  SESSION_SECRET: "a-session-secret-of-32-characters",
};

describe("parseEnv: tracing", () => {
  it("is off without an endpoint", () => {
    expect(parseEnv(BASE).tracing).toBeNull();
  });

  it("appends /v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT and defaults to protobuf, parent-based always-on, service hotpath", () => {
    expect(parseEnv({ ...BASE, OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }).tracing).toEqual({
      url: "http://collector:4318/v1/traces",
      protocol: "http/protobuf",
      serviceName: "hotpath",
      sampler: "parentbased_always_on",
      ratio: 1,
    });
  });

  it("takes the traces endpoint as given, and the traces protocol over the general one", () => {
    const tracing = parseEnv({
      ...BASE,
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://tempo.example/otlp/traces",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "hotpath-eu",
      OTEL_TRACES_SAMPLER: "traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.01",
    }).tracing;
    expect(tracing).toEqual({ url: "https://tempo.example/otlp/traces", protocol: "http/json", serviceName: "hotpath-eu", sampler: "traceidratio", ratio: 0.01 });
  });

  it("is off with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none, whatever the endpoint", () => {
    expect(parseEnv({ ...BASE, OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }).tracing).toBeNull();
    expect(parseEnv({ ...BASE, OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }).tracing).toBeNull();
  });

  it("names bad values", () => {
    try {
      parseEnv({ ...BASE, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_TRACES_SAMPLER: "sometimes", OTEL_TRACES_SAMPLER_ARG: "2" });
      throw new Error("expected a throw");
    } catch (error) {
      expect(error).toBeInstanceOf(EnvError);
      const problems = (error as EnvError).problems.join("\n");
      expect(problems).toContain("OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json");
      expect(problems).toContain("OTEL_TRACES_SAMPLER must be one of");
      expect(problems).toContain("OTEL_TRACES_SAMPLER_ARG must be between 0 and 1");
    }
  });
});
