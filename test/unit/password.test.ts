import { scryptSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "~/models/user.server";

describe("password hashes", () => {
  it("are scrypt with their parameters and a random salt in the stored string", async () => {
    const a = await hashPassword("correct horse");
    const b = await hashPassword("correct horse");
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(a).not.toBe(b);
  });

  it("verify the right password and refuse a wrong one", async () => {
    const stored = await hashPassword("correct horse");
    expect(await verifyPassword("correct horse", stored)).toBe(true);
    expect(await verifyPassword("correct horse ", stored)).toBe(false);
    expect(await verifyPassword("Correct horse", stored)).toBe(false);
  });

  it("verify with the parameters stored in the hash, so the cost can be raised later", async () => {
    const salt = Buffer.from("0123456789abcdef");
    const legacy = ["scrypt", 1024, 8, 1, salt.toString("base64"), scryptSync("old password", salt, 32, { N: 1024, r: 8, p: 1 }).toString("base64")].join("$");
    expect(await verifyPassword("old password", legacy)).toBe(true);
    expect(await verifyPassword("other password", legacy)).toBe(false);
  });

  it.each(["", "plain-text-password", "bcrypt$10$abc", "scrypt$x$8$1$c2FsdA==$aGFzaA==", "scrypt$1024$8$1$$aGFzaA==", "scrypt$1000$8$1$c2FsdA==$aGFzaA=="])(
    "never match a malformed stored value %j",
    async (stored) => {
      expect(await verifyPassword("plain-text-password", stored)).toBe(false);
    },
  );
});
