// Routing-loop guard (R30). An underlay endpoint that our kernel routes into our own TUN device would send
// every encrypted packet back into the tunnel, where it is encrypted again, 60 bytes bigger, then
// fragmented, forever. The kernel's WireGuard stops this with a recursion limit on its device; a userspace
// TUN cannot see the recursion, so tunmesh refuses such endpoints where peers are accepted and keeps the
// last good endpoint (or none) instead.
//
// "Routed into the TUN" is judged from what the daemon itself routes there: the mesh prefixes of
// node.addresses and tun.addresses (connected routes), tun.routes and static peers' allowed IPs. A /0 is
// left out: a default route into the tunnel (a full-tunnel exit) is overridden for the underlay by the
// more specific routes of the underlay network, which the kernel prefers.
import { AllowedIps } from '../dataplane/allowed-ips.js';
import type { Config } from '../config/index.js';
import type { Endpoint } from '../platform/ports.js';
import { parseAddress } from '../wire/ip.js';

export interface EndpointGuard {
  /** True when sending to `endpoint` would enter our own tunnel. */
  loops(endpoint: Endpoint): boolean;
  /** Called for each refused endpoint (count it, log it). */
  readonly onRefused?: ((peer: string, endpoint: Endpoint) => void) | undefined;
}

/** The CIDRs the daemon routes into its TUN device, from the config (addresses already resolved). */
export function tunnelPrefixes(config: Config): string[] {
  return [
    ...config.node.addresses,
    ...config.tun.addresses,
    ...config.tun.routes,
    ...config.wireguard.staticPeers.flatMap((p) => p.allowedIps),
  ];
}

/** A guard over `prefixes` (CIDR text; unparsable ones and /0 are ignored). */
export function endpointGuard(
  prefixes: readonly string[],
  onRefused?: (peer: string, endpoint: Endpoint) => void,
): EndpointGuard {
  const table = new AllowedIps<true>();
  for (const p of prefixes) {
    if (p.endsWith('/0')) continue;
    try {
      table.insert(p, true);
    } catch {
      // not a CIDR: the config layer reports it
    }
  }
  return {
    loops: (e) => {
      const addr = parseAddress(e.host);
      return addr !== undefined && table.lookup(addr) === true;
    },
    onRefused,
  };
}

/** `endpoint` unless the guard refuses it (then undefined, reported to onRefused). */
export function guardEndpoint(
  guard: EndpointGuard | undefined,
  peer: string,
  endpoint: Endpoint | undefined,
): Endpoint | undefined {
  if (endpoint === undefined || guard === undefined || !guard.loops(endpoint)) return endpoint;
  guard.onRefused?.(peer, endpoint);
  return undefined;
}
