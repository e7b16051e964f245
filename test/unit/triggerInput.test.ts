import { describe, expect, it } from "vitest";
import { findUnstorableJson } from "~/domain/storableInput";
import { assertStorableDate, isJsonObject, MAX_STORABLE_DATE, parseIsoDate, taskIdProblem } from "~/domain/triggerInput";

describe("parseIsoDate: real calendar dates Postgres can store", () => {
  it.each([
    ["2027-02-28", "2027-02-28T00:00:00.000Z"],
    ["2028-02-29T12:00:00Z", "2028-02-29T12:00:00.000Z"],
    ["2000-02-29T00:00:00+02:00", "2000-02-28T22:00:00.000Z"],
    ["2027-12-31T23:59:59.999Z", "2027-12-31T23:59:59.999Z"],
    ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59.000Z"],
  ])("%s → %s", (text, iso) => {
    expect(parseIsoDate(text, "options.delay").toISOString()).toBe(iso);
  });

  it.each(["2027-02-30", "2027-02-29", "1900-02-29", "2027-00-10", "2027-13-01", "2027-04-31", "2027-01-01T24:00:00Z", "2027-01-01T23:60:00Z", "2027-01-01T23:59:60Z", "2027-01-01T10:00:00+24:00", "2027-1-1", "tomorrow"])(
    "%s is refused (400 naming the field)",
    (text) => {
      expect(() => parseIsoDate(text, "options.delay")).toThrow(expect.objectContaining({ status: 400, details: { field: "options.delay" } }));
    },
  );

  it("an instant past 9999-12-31T23:59:59.999Z is refused, even when its local date is in year 9999", () => {
    expect(() => parseIsoDate("9999-12-31T23:59:59-12:00", "options.delay")).toThrow(/outside the dates that can be stored/);
    expect(() => assertStorableDate(new Date(MAX_STORABLE_DATE.getTime() + 1), "options.ttl")).toThrow(/options\.ttl/);
    expect(assertStorableDate(MAX_STORABLE_DATE, "x")).toBe(MAX_STORABLE_DATE);
  });
});

describe("taskIdProblem: the rule deploy applies", () => {
  it.each(["", " ", "\t\n", "a\u0000b", "a\u001fb", "a\u007f", "\u0085x"])("refuses %j", (id) => {
    expect(taskIdProblem(id)).not.toBeNull();
  });
  it.each(["email", "send-welcome-email", "ünïcode task", "a".repeat(128)])("accepts %j", (id) => {
    expect(taskIdProblem(id)).toBeNull();
  });
  it("refuses more than 128 characters", () => expect(taskIdProblem("a".repeat(129))).toMatch(/128/));
});

describe("numbers beyond double range and __proto__ keys", () => {
  it("1e400 parses as Infinity, which storage would turn into null: refused with its path", () => {
    expect(findUnstorableJson(JSON.parse('{"a":[1,1e400]}'))).toEqual({ path: "a[1]", problem: expect.stringMatching(/outside the range/) });
    expect(findUnstorableJson(JSON.parse("-1e400"))).toMatchObject({ path: "(root)" });
    expect(findUnstorableJson(JSON.parse('{"a":1.7976931348623157e308}'))).toBeNull();
  });
  it("isJsonObject keeps the object as parsed, own __proto__ key included", () => {
    const parsed = JSON.parse('{"__proto__":{"x":1}}');
    expect(isJsonObject(parsed)).toBe(true);
    expect(Object.keys(parsed)).toEqual(["__proto__"]);
    expect(isJsonObject([])).toBe(false);
    expect(isJsonObject(null)).toBe(false);
  });
});
