import { describeKeyTtl } from "~/domain/keyTtl";

/** A Redis key's TTL: "no expiry" or a compact duration, exact seconds on hover. */
export function KeyTtl({ seconds }: { seconds: number }) {
  const ttl = describeKeyTtl(seconds);
  const tone = ttl.state === "missing" ? "text-slate-500" : ttl.state === "persistent" ? "text-amber-700" : "text-slate-700";
  return (
    <span title={ttl.title} data-ttl-seconds={seconds} className={`cursor-help whitespace-nowrap tabular-nums underline decoration-dotted decoration-slate-300 underline-offset-2 ${tone}`}>
      {ttl.label}
    </span>
  );
}
