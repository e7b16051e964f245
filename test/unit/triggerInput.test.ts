import { describe, expect, it } from "vitest";
import { assertStorableDate, MAX_STORABLE_DATE, parseIsoDate } from "~/domain/triggerInput";

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
