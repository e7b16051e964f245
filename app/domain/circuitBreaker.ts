/**
 * A consecutive-failure circuit breaker. While Redis is down every cache call would otherwise
 * wait for its command timeout before the resolver falls back to Postgres; once open, calls skip
 * Redis at once. After `cooldownMs` one probe call is let through (half-open): success closes the
 * breaker, failure re-opens it for another cooldown. Pure: time comes from `now`.
 */

export type BreakerState = "closed" | "open" | "half-open";

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  cooldownMs: number;
  now?: () => number;
}

export class CircuitBreaker {
  private readonly failureThreshold: number;
  private readonly cooldownMs: number;
  private readonly now: () => number;
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probeStartedAt: number | null = null;
  private current: BreakerState = "closed";

  constructor(options: CircuitBreakerOptions) {
    if (options.failureThreshold < 1) throw new RangeError("failureThreshold must be at least 1");
    this.failureThreshold = options.failureThreshold;
    this.cooldownMs = options.cooldownMs;
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Whether a call may go out now. In half-open only one probe is in flight at a time. */
  tryAcquire(): boolean {
    if (this.current === "closed") return true;
    const now = this.now();
    if (this.current === "open") {
      if (now - this.openedAt < this.cooldownMs) return false;
      this.current = "half-open";
      this.probeStartedAt = now;
      return true;
    }
    // half-open: a probe whose outcome was never reported must not wedge the breaker forever.
    if (this.probeStartedAt !== null && now - this.probeStartedAt < this.cooldownMs) return false;
    this.probeStartedAt = now;
    return true;
  }

  recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.probeStartedAt = null;
    this.current = "closed";
  }

  /** Returns true when this failure opened the breaker (for logging and counting once). */
  recordFailure(): boolean {
    this.consecutiveFailures += 1;
    if (this.current === "half-open" || (this.current === "closed" && this.consecutiveFailures >= this.failureThreshold)) {
      this.current = "open";
      this.openedAt = this.now();
      this.probeStartedAt = null;
      return true;
    }
    return false;
  }
}
