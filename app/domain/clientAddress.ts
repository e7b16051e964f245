/**
 * The client's address behind `hops` trusted proxies, as express's numeric "trust proxy" reads it
 * for the pages: the connection's address when no proxy is trusted; otherwise the entry of
 * X-Forwarded-For that the outermost trusted proxy appended (never believed beyond that, so a
 * client cannot name any address it likes). "::ffff:" (IPv4 on a dual-stack socket) is dropped.
 */
export function forwardedClientAddress(remote: string | undefined, forwardedFor: string | string[] | undefined, hops: number): string | undefined {
  const plain = (address: string | undefined) => (address?.startsWith("::ffff:") ? address.slice("::ffff:".length) : address);
  if (hops <= 0 || forwardedFor === undefined) return plain(remote);
  const chain = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor)
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  // [client, proxy1, …, connection]: each trusted hop steps one entry back from the connection.
  const addresses = [...chain, remote ?? ""];
  return plain(addresses[Math.max(0, addresses.length - 1 - hops)]) || undefined;
}
