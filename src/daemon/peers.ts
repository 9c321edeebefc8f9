// Turns node records and static-peer config into data-plane peer specs. A record is only trusted as far
// as its shape: keys, addresses and routes that do not parse make the record unusable, and it is skipped;
// which of its routes are installed is decided elsewhere (daemon/advertised-routes.ts).
import type { Secret } from '../base/secret.js';
import { decodeKey } from '../crypto/keys.js';
import type { PeerSpec } from '../dataplane/engine.js';
import type { NodeRecord } from '../membership/record.js';
import type { Endpoint } from '../platform/ports.js';
import { parseCidr, parseHostPort, type Config } from '../config/index.js';
import { endpointGuard, guardEndpoint, tunnelPrefixes, type EndpointGuard } from './loop-guard.js';

/** The host route of an overlay address: 198.19.0.2/16 -> 198.19.0.2/32. */
export function hostRoute(cidr: string): string | undefined {
  const c = parseCidr(cidr);
  if (!c) return undefined;
  return `${c.address}/${c.family === 4 ? 32 : 128}`;
}

export function parseEndpoint(s: string): Endpoint | undefined {
  const hp = parseHostPort(s);
  return hp ? { host: hp.host, port: hp.port } : undefined;
}

/**
 * Picks the first endpoint of a family our socket can reach. With a guard, endpoints routed into our own
 * tunnel are skipped (each reported to the guard for `peer`) and the next one is tried.
 */
export function pickEndpoint(
  endpoints: readonly string[],
  families: ReadonlySet<4 | 6>,
  guard?: EndpointGuard,
  peer = '',
): Endpoint | undefined {
  for (const s of endpoints) {
    const e = parseEndpoint(s);
    if (e && families.has(e.host.includes(':') ? 6 : 4) && guardEndpoint(guard, peer, e)) return e;
  }
  return undefined;
}

/**
 * The peer of member record `r`. Its allowed IPs are its own addresses (host routes) and `routes`: those of
 * its advertised routes this node accepts (daemon/advertised-routes.ts), never the record's list as such.
 */
export function specFromRecord(
  r: NodeRecord,
  routes: readonly string[],
  families: ReadonlySet<4 | 6>,
  keepaliveSec: number,
  guard?: EndpointGuard,
): PeerSpec | undefined {
  if (!decodeKey(r.publicKey)) return undefined;
  if (r.routes.some((x) => !parseCidr(x))) return undefined;
  const allowedIps: string[] = [];
  for (const a of [...r.addresses.map(hostRoute), ...routes.map((x) => (parseCidr(x) ? x : undefined))]) {
    if (a === undefined) return undefined;
    allowedIps.push(a);
  }
  return {
    publicKey: r.publicKey,
    name: r.id,
    allowedIps,
    endpoint: pickEndpoint(r.endpoints, families, guard, r.id),
    persistentKeepaliveSec: keepaliveSec,
  };
}

/** Static peers' specs; an endpoint routed into our own tunnel is left out (the guard defaults to the config's). */
export function specsFromStaticPeers(
  config: Config,
  psks: ReadonlyMap<string, Secret<Uint8Array>>,
  guard: EndpointGuard = endpointGuard(tunnelPrefixes(config)),
): PeerSpec[] {
  return config.wireguard.staticPeers.map((p) => ({
    publicKey: p.publicKey,
    name: p.name,
    allowedIps: p.allowedIps,
    endpoint: guardEndpoint(guard, p.name, p.endpoint ? parseEndpoint(p.endpoint) : undefined),
    presharedKey: psks.get(p.name),
    persistentKeepaliveSec: p.persistentKeepaliveSec ?? config.wireguard.persistentKeepaliveSec,
  }));
}
