// What this node announces about itself: endpoints and API URL are derived from what it actually bound
// when the config does not name them, so `listen: 0.0.0.0:…` still advertises something reachable. A node
// behind a NAT (`node.reach: outbound`) announces no UDP endpoint of its own: its private address would only
// mislead its peers, who learn the translated one from its packets (daemon/nat.ts). Derived values are
// re-derived while the node runs (SelfAddressWatcher), so a node whose underlay address changes (roams)
// announces the new one.
// These are the record's fields; the membership core signs it (sigKey, sig: membership/record-auth.ts,
// with the key derived from node.privateKeyFile) at start and on every version bump.
import { networkInterfaces } from 'node:os';
import type { Logger } from '../base/log.js';
import type { Clock, Timer } from '../platform/ports.js';
import type { Config } from '../config/index.js';
import { formatHostPort, isUnspecified, parseHostPort } from '../config/index.js';
import type { NodeRecord } from '../membership/record.js';

/** Non-loopback addresses of this namespace's interfaces, except the mesh's own TUN. */
export function interfaceAddresses(exceptDevice: string): string[] {
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name === exceptDevice) continue;
    for (const a of addrs ?? []) {
      if (a.internal || (a.family === 'IPv6' && a.address.startsWith('fe80'))) continue;
      out.push(a.address);
    }
  }
  return out;
}

export function advertisedEndpoints(config: Config, udpPort: number, apiUrl: string): string[] {
  if (config.wireguard.advertise.length > 0) return [...config.wireguard.advertise];
  if (config.node.reach === 'outbound') return [];
  const listen = parseHostPort(config.wireguard.listen, { allowPortZero: true })!;
  if (!isUnspecified(listen.host)) return [formatHostPort({ host: listen.host, port: udpPort })];
  const apiHost = apiUrl ? new URL(apiUrl).hostname.replace(/^\[|\]$/g, '') : '';
  const hosts = apiHost && /^[0-9.]+$|:/.test(apiHost) ? [apiHost] : interfaceAddresses(config.tun.name);
  return hosts.map((host) => formatHostPort({ host, port: udpPort }));
}

export function advertisedApiUrl(config: Config, apiPort: number): string {
  if (config.control.advertiseUrl) return config.control.advertiseUrl;
  const listen = parseHostPort(config.control.listen, { allowPortZero: true })!;
  const host = isUnspecified(listen.host) ? (interfaceAddresses(config.tun.name)[0] ?? '127.0.0.1') : listen.host;
  return `https://${formatHostPort({ host, port: apiPort })}`;
}

export function selfRecord(
  config: Config,
  publicKey: string,
  epoch: number,
  endpoints: string[],
  apiUrl: string,
): NodeRecord {
  return {
    id: config.node.name,
    epoch,
    version: 0,
    publicKey,
    addresses: [...config.node.addresses],
    endpoints,
    apiUrl,
    methods: [...config.transport.methods],
    routes: [...config.node.routes],
    ...(config.node.reach === 'outbound' && { reach: 'outbound' as const }),
  };
}

/** How often derived endpoints and API URL are re-derived (a roaming node's new address spreads this fast). */
const rederiveIntervalMs = 2000;

export interface SelfAddresses {
  readonly endpoints: readonly string[];
  readonly apiUrl: string;
}

/**
 * Re-derives the announced endpoints and API URL every rederiveIntervalMs and reports a change. Only derived
 * values can change: with wireguard.advertise and control.advertiseUrl set there is nothing to watch.
 */
export class SelfAddressWatcher {
  readonly #derive: () => SelfAddresses;
  readonly #clock: Clock;
  readonly #onChange: (next: SelfAddresses, previous: SelfAddresses) => void;
  readonly #log: Logger;
  #current: SelfAddresses;
  #timer: Timer | undefined;

  constructor(o: {
    derive: () => SelfAddresses;
    initial: SelfAddresses;
    clock: Clock;
    log: Logger;
    onChange: (next: SelfAddresses, previous: SelfAddresses) => void;
  }) {
    this.#derive = o.derive;
    this.#current = o.initial;
    this.#clock = o.clock;
    this.#log = o.log;
    this.#onChange = o.onChange;
  }

  /** Whether anything is derived (else start() does nothing). */
  static needed(config: Config): boolean {
    const udpDerived = config.wireguard.advertise.length === 0 && config.node.reach !== 'outbound';
    return udpDerived || config.control.advertiseUrl === '';
  }

  start(): void {
    const tick = (): void => {
      this.check();
      this.#timer = this.#clock.after(rederiveIntervalMs, tick);
    };
    this.#timer = this.#clock.after(rederiveIntervalMs, tick);
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Re-derives now; true when something changed (and was reported). */
  check(): boolean {
    let next: SelfAddresses;
    try {
      next = this.#derive();
    } catch (e) {
      this.#log.debug({ err: (e as Error).message }, 'could not re-derive this node’s addresses');
      return false;
    }
    const prev = this.#current;
    // No address at all (an interface is being reconfigured): keep announcing the last one.
    if (next.endpoints.length === 0 && prev.endpoints.length > 0) return false;
    if (next.apiUrl !== prev.apiUrl && /^https:\/\/(127\.|\[::1\])/.test(next.apiUrl)) return false;
    const same =
      next.apiUrl === prev.apiUrl &&
      next.endpoints.length === prev.endpoints.length &&
      next.endpoints.every((e, i) => e === prev.endpoints[i]);
    if (same) return false;
    this.#current = next;
    this.#onChange(next, prev);
    return true;
  }
}
