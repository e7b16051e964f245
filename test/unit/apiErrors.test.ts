import { z } from "zod";
import { describe, expect, it } from "vitest";
import { errorResponse } from "~/api/errors";
import { BadRequestError, NotFoundError, ServiceUnavailableError } from "~/domain/errors";

/** Errors in the shape and with the retry hints the trigger.dev SDK understands. */

const request = { method: "POST", path: "/api/v1/tasks/t/trigger" };

describe("errorResponse", () => {
  it("client errors are permanent: x-should-retry false, so the SDK fails at once", () => {
    for (const error of [new BadRequestError("bad"), new NotFoundError("gone")]) {
      expect(errorResponse(error, request).headers["x-should-retry"]).toBe("false");
    }
  });

  it("a zod error is a 400 whose message names the first field", () => {
    const parsed = z.object({ options: z.object({ machine: z.enum(["micro"]) }) }).safeParse({ options: { machine: "huge" } });
    const response = errorResponse(parsed.error, request);
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body).error).toMatch(/^Invalid request body: options\.machine: /);
  });

  it("an outage is a 503 the SDK retries after Retry-After", () => {
    for (const error of [new ServiceUnavailableError("down"), Object.assign(new Error("connect"), { code: "ECONNREFUSED" })]) {
      const response = errorResponse(error, request);
      expect(response.status).toBe(503);
      expect(response.headers).toMatchObject({ "x-should-retry": "true", "retry-after": "1" });
    }
  });
});
