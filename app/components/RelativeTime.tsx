import { exactUtc, relativeTime } from "~/domain/relativeTime";

/** "3 min ago" with the exact UTC time on hover (and in `dateTime` for assistive tools). */
export function RelativeTime({ iso, now }: { iso: string; now: string }) {
  return (
    <time dateTime={iso} title={exactUtc(iso)} className="whitespace-nowrap tabular-nums">
      {relativeTime(iso, now)}
    </time>
  );
}
