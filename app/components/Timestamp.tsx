/**
 * A UTC time rendered the same on the server and in the browser (no hydration mismatch), with the
 * full ISO value on hover.
 */
export function Timestamp({ iso }: { iso: string }) {
  const text = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  return (
    <time dateTime={iso} title={iso} className="whitespace-nowrap tabular-nums">
      {text}
    </time>
  );
}
