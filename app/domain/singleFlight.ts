/**
 * Concurrent calls with one key share one in-flight promise. The entry is removed the moment the
 * work settles, so nothing is cached: a result or an error reaches exactly the callers that were
 * waiting for it, and the next call starts afresh (an outage is retried, not remembered).
 */
export class SingleFlight {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const pending = this.inFlight.get(key);
    if (pending) return pending as Promise<T>;
    const started = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  /** Keys with work in flight now. */
  get size(): number {
    return this.inFlight.size;
  }
}
