import { describe, expect, it } from "vitest";
import { pageInputProblem } from "~/domain/pageInput";
import { requestLineProblem } from "~/domain/requestLine";

const form = (body: string) => ({ contentType: "application/x-www-form-urlencoded", body: Buffer.from(body) });
const none = { contentType: undefined, body: undefined };

describe("pageInputProblem: page inputs Postgres cannot take (issue 12, finding 9)", () => {
  it("names the form field, query parameter or path that holds a NUL", () => {
    expect(pageInputProblem({ path: "/login", search: "" }, form("email=a%00b%40x.y"))).toEqual({ where: "Form field 'email'", problem: "contains a NUL character (\\u0000)" });
    expect(pageInputProblem({ path: "/admin/runs", search: "?task=a%00b" }, none)).toMatchObject({ where: "Query parameter 'task'" });
    expect(pageInputProblem({ path: "/admin/environments/a%00/cache", search: "" }, none)).toMatchObject({ where: "The path" });
    expect(pageInputProblem({ path: "/a%E0%A4%A", search: "" }, none)).toMatchObject({ problem: /percent-encoded/ });
  });
  it("leaves ordinary input, and bodies that are not url-encoded forms, alone", () => {
    expect(pageInputProblem({ path: "/admin/runs", search: "?task=émail&status=PENDING" }, form("email=a%40b.c&password=%F0%9F%94%91"))).toBeNull();
    expect(pageInputProblem({ path: "/login", search: "" }, { contentType: "text/plain", body: Buffer.from("a=%00") })).toBeNull();
  });
});

describe("requestLineProblem: request lines no page can serve (issue 12, finding 7)", () => {
  it.each([
    ["http://h/healthz", "h"],
    ["*", "h"],
    ["//evil.example/", "h"],
    ["/login", "bad host"],
    ["/login", "a/b"],
    ["/login", "[::1"],
    ["/login", "u@h"],
  ])("refuses target %j with Host %j", (target, host) => {
    expect(requestLineProblem(target, host)).not.toBeNull();
  });
  it.each([
    ["/login", "localhost:3000"],
    ["/admin?x=1", "127.0.0.1"],
    ["/", "[::1]:8080"],
    ["/", "hotpath.example.com."],
    ["/", undefined],
  ])("accepts target %j with Host %j", (target, host) => {
    expect(requestLineProblem(target, host)).toBeNull();
  });
  it("checks X-Forwarded-Host too", () => expect(requestLineProblem("/", "h", "a b")).toMatch(/X-Forwarded-Host/));
});
