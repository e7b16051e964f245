/**
 * Typed errors that carry their HTTP meaning. Services throw them; the API layer maps them once to
 * `{"error": message, "details"?: …}` with `status` (docs/api.md, "Errors"). Anything else is a bug or an outage.
 */
export class HotpathError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 413 | 422 | 429 | 503,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: malformed input (zod issues in `details`, or a malformed duration naming its field). */
export class BadRequestError extends HotpathError {
  constructor(message: string, details?: unknown) {
    super(400, message, details);
  }
}

/** 401: missing or invalid credentials. */
export class UnauthorizedError extends HotpathError {
  constructor(message = "Missing or invalid credentials") {
    super(401, message);
  }
}

/** 404: unknown resource (or one that belongs to another environment). */
export class NotFoundError extends HotpathError {
  constructor(message: string) {
    super(404, message);
  }
}

/** 409: conflicts with existing state (same version, other content). */
export class ConflictError extends HotpathError {
  constructor(message: string, details?: unknown) {
    super(409, message, details);
  }
}

/**
 * 409 that will pass: another request is registering the same thing right now (a deploy of the same
 * external id). `retryAfterSeconds` goes out as Retry-After.
 */
export class InProgressError extends ConflictError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** 413: request body over the configured limit. */
export class PayloadTooLargeError extends HotpathError {
  constructor(limitBytes: number) {
    super(413, `Request body is larger than the limit of ${limitBytes} bytes`);
  }
}

/** 422: well-formed but not valid in this environment (the resolver's errors, docs/api.md). */
export class ValidationError extends HotpathError {
  constructor(message: string, details?: unknown) {
    super(422, message, details);
  }
}

/** 429: this client used up a budget; `retryAfterSeconds` goes out as Retry-After. */
export class TooManyRequestsError extends HotpathError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, message);
  }
}

/** 503: a required dependency (Postgres) is down. */
export class ServiceUnavailableError extends HotpathError {
  constructor(
    message: string,
    /** Retry-After in seconds; the API's default (1) when absent. */
    readonly retryAfterSeconds?: number,
  ) {
    super(503, message);
  }
}
