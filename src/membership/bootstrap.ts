// Bootstrap helpers: expand bootstrap URLs to one URL per address (a DNS name such as a Kubernetes
// headless Service stands for every pod behind it), and the retry schedule.
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import type { Rng } from './rng.js';

export type Resolver = (hostname: string) => Promise<string[]>;

/** Every address of a name (A and AAAA), as the system resolver sees it. */
export const systemResolver: Resolver = async (hostname) =>
  (await dns.lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/**
 * One URL per address behind each bootstrap URL, deduplicated, order kept. A name that does not resolve
 * contributes nothing this round; unparsable URLs are skipped (config validation rejects them earlier).
 */
export async function expandBootstrapUrls(urls: readonly string[], resolve: Resolver): Promise<string[]> {
  const out = new Set<string>();
  for (const raw of urls) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (isIP(host)) {
      out.add(url.toString());
      continue;
    }
    let addresses: string[];
    try {
      addresses = await resolve(host);
    } catch {
      addresses = [];
    }
    for (const a of addresses) {
      const u = new URL(url.toString());
      u.hostname = isIP(a) === 6 ? `[${a}]` : a;
      out.add(u.toString());
    }
  }
  return [...out];
}

/** Same URL (scheme, host, port, path) after normalisation. */
export function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).toString() === new URL(b).toString();
  } catch {
    return a === b;
  }
}

/** Delay before retry number `attempt` (0-based): doubling from min, capped at max, jittered in [d/2, d]. */
export function backoffMs(attempt: number, minMs: number, maxMs: number, rng: Rng): number {
  const d = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 40));
  return Math.round(Math.min(maxMs, Math.max(minMs, d * (0.5 + 0.5 * rng()))));
}
