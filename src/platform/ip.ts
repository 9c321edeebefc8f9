// Small address helpers shared by the Linux and memory platforms.
import { isIPv4 } from 'node:net';

const mappedPrefix = '::ffff:';

/** ::ffff:a.b.c.d (an IPv4 peer seen through a dual-stack socket) -> a.b.c.d; anything else unchanged. */
export function unmapIPv4(host: string): string {
  if (host.length > mappedPrefix.length && host.slice(0, mappedPrefix.length).toLowerCase() === mappedPrefix) {
    const v4 = host.slice(mappedPrefix.length);
    if (isIPv4(v4)) return v4;
  }
  return host;
}

/** a.b.c.d -> ::ffff:a.b.c.d, the form a dual-stack socket sends IPv4 to. */
export function mapIPv4(v4: string): string {
  return mappedPrefix + v4;
}
