import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "~/domain/circuitBreaker";

function breaker(failureThreshold = 3, cooldownMs = 1_000) {
  const clock = { now: 0 };
  return { clock, breaker: new CircuitBreaker({ failureThreshold, cooldownMs, now: () => clock.now }) };
}

describe("circuit breaker", () => {
  it("opens after N consecutive failures, not before", () => {
    const { breaker: b } = breaker(3);
    expect(b.recordFailure()).toBe(false);
    expect(b.recordFailure()).toBe(false);
    expect(b.tryAcquire()).toBe(true);
    expect(b.recordFailure()).toBe(true);
    expect(b.state).toBe("open");
    expect(b.tryAcquire()).toBe(false);
  });

  it("a success resets the consecutive count", () => {
    const { breaker: b } = breaker(3);
    b.recordFailure();
    b.recordFailure();
    b.recordSuccess();
    b.recordFailure();
    b.recordFailure();
    expect(b.state).toBe("closed");
  });

  it("half-opens after the cooldown and lets exactly one probe through", () => {
    const { clock, breaker: b } = breaker(1, 1_000);
    b.recordFailure();
    clock.now = 999;
    expect(b.tryAcquire()).toBe(false);
    clock.now = 1_000;
    expect(b.tryAcquire()).toBe(true);
    expect(b.state).toBe("half-open");
    expect(b.tryAcquire()).toBe(false);
  });

  it("a successful probe closes it; a failed probe re-opens it for another cooldown", () => {
    const { clock, breaker: b } = breaker(1, 1_000);
    b.recordFailure();
    clock.now = 1_000;
    b.tryAcquire();
    expect(b.recordFailure()).toBe(true);
    expect(b.state).toBe("open");
    clock.now = 1_500;
    expect(b.tryAcquire()).toBe(false);
    clock.now = 2_000;
    expect(b.tryAcquire()).toBe(true);
    b.recordSuccess();
    expect(b.state).toBe("closed");
    expect(b.tryAcquire()).toBe(true);
  });

  it("a probe whose outcome is never reported does not wedge it", () => {
    const { clock, breaker: b } = breaker(1, 1_000);
    b.recordFailure();
    clock.now = 1_000;
    expect(b.tryAcquire()).toBe(true);
    clock.now = 2_000;
    expect(b.tryAcquire()).toBe(true);
  });
});
