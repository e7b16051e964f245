import { describe, expect, it } from "vitest";
import { defaultQueueName, MAX_QUEUE_NAME_LENGTH, sanitizeQueueName } from "~/domain/queueNames";

describe("queue names keep only [A-Za-z0-9_-/], at most 128 characters, else task/<slug>", () => {
  it.each([
    ["emails", "emails"],
    ["my-queue_2/high", "my-queue_2/high"],
    ["my queue", "myqueue"],
    ["émails!", "mails"],
    ["a.b:c*d", "abcd"],
    ["tab\there", "tabhere"],
    ["🚀rocket", "rocket"],
  ])("%j → %j", (input, expected) => {
    expect(sanitizeQueueName(input, "send-email")).toBe(expected);
  });

  it.each([[""], ["   "], ["!!!"], ["🚀"], ["..."]])("%j sanitises to nothing → the task's default queue", (input) => {
    expect(sanitizeQueueName(input, "send-email")).toBe("task/send-email");
  });

  it("cuts at 128 characters, after removing what is not allowed", () => {
    const long = "a".repeat(200);
    expect(sanitizeQueueName(long, "t")).toHaveLength(MAX_QUEUE_NAME_LENGTH);
    expect(sanitizeQueueName(`${"!".repeat(50)}${"b".repeat(128)}c`, "t")).toBe("b".repeat(128));
  });

  it("the default queue is sanitised too", () => {
    expect(defaultQueueName("send email")).toBe("task/sendemail");
    expect(defaultQueueName("x".repeat(300))).toHaveLength(MAX_QUEUE_NAME_LENGTH);
  });
});
