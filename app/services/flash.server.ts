import { createCookie, redirect, type Cookie } from "@remix-run/node";
import { getEnv } from "~/env.server";

/**
 * One-shot messages shown after an admin action ("Invalidated tr:task-meta:{…}:current"). The
 * action redirects (so a reload does not repeat the POST) with the message in a short-lived signed
 * cookie; the next admin page loader reads it and clears it.
 */

export interface Flash {
  kind: "success" | "error";
  message: string;
}

let cookie: Cookie | undefined;

function flashCookie(): Cookie {
  cookie ??= createCookie("__hotpath_flash", {
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    maxAge: 60,
    secrets: [getEnv().SESSION_SECRET],
  });
  return cookie;
}

export async function redirectWithFlash(to: string, flash: Flash): Promise<Response> {
  return redirect(to, { headers: { "Set-Cookie": await flashCookie().serialize(flash) } });
}

function isFlash(value: unknown): value is Flash {
  const v = value as Partial<Flash> | null;
  return !!v && (v.kind === "success" || v.kind === "error") && typeof v.message === "string";
}

/** The pending message (or null) and the header that clears it; pass `headers` to the loader's response. */
export async function readFlash(request: Request): Promise<{ flash: Flash | null; headers: HeadersInit }> {
  const header = request.headers.get("Cookie");
  const value = header?.includes("__hotpath_flash=") ? await flashCookie().parse(header) : null;
  if (!isFlash(value)) return { flash: null, headers: {} };
  return { flash: value, headers: { "Set-Cookie": await flashCookie().serialize("", { maxAge: 0 }) } };
}
