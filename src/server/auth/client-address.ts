// The client's address for rate limits. X-Forwarded-For is a list each proxy appends the peer it
// saw to, so only its right end is trustworthy: behind N trusted proxies the client is the N-th
// entry from the right (the outermost proxy's peer). Anything further left was written by the
// client; the first entry, which the sign-in limiter used to trust, is whatever it wants.
//
// With no proxy (TRUSTED_PROXIES=0) Next.js fills X-Forwarded-For with the socket's address only
// when the client sent none, so a directly exposed server cannot tell a forged header from the
// peer: the rightmost entry is the best there is. Production deployments belong behind a proxy
// (README "Behind a proxy"), and the address × username lock never locks out the real owner.

export function clientAddressFrom(headers: Headers, trustedProxies: number): string {
  const entries = (headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (entries.length === 0) return headers.get("x-real-ip")?.trim() || "unknown";
  // Fewer entries than proxies means a misconfiguration; the leftmost is the best guess left.
  const index = Math.max(0, entries.length - Math.max(1, trustedProxies));
  return entries[index]!.slice(0, 100);
}
