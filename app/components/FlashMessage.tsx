import type { Flash } from "~/services/flash.server";

/** The one-shot result of the last admin action (see flash.server.ts). */
export function FlashMessage({ flash }: { flash: Flash | null }) {
  if (!flash) return null;
  const tone = flash.kind === "success" ? "border-emerald-200 bg-emerald-50 text-emerald-800" : "border-red-200 bg-red-50 text-red-800";
  return (
    <p role="status" className={`rounded-md border px-4 py-3 text-sm ${tone}`}>
      {flash.message}
    </p>
  );
}
