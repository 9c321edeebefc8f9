// A NAT box for the memory internet: inside endpoints get an outside IP:port mapping that lives while
// traffic flows in either direction and expires after an idle timeout (like Linux conntrack for UDP).
// Mapping and filtering behaviour follow RFC 4787's terms so tests can build the hard cases too.
import type { Endpoint } from '../ports.js';
import { endpointKey } from '../ports.js';

export type NatMapping = 'endpoint-independent' | 'endpoint-dependent';
export type NatFiltering = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

export interface NatOptions {
  /** The NAT's address in the realm outside it. */
  outsideIp: string;
  /** endpoint-independent = "cone" (default); endpoint-dependent = symmetric NAT. */
  mapping?: NatMapping;
  /** Which outside sources may use a mapping; default address-and-port-dependent (Linux MASQUERADE). */
  filtering?: NatFiltering;
  /** Mapping lifetime without traffic; default 30 s (Linux nf_conntrack_udp_timeout). */
  idleTimeoutMs?: number;
  /** Keep the inside source port when it is free on the outside, as Linux does. Default true. */
  preservePort?: boolean;
}

interface Mapping {
  readonly key: string;
  readonly inside: Endpoint;
  readonly outsidePort: number;
  lastUsedMs: number;
  /** Outside IPs (address-dependent) or IP:port keys (address-and-port-dependent) this mapping sent to. */
  readonly allowed: Set<string>;
}

const firstPort = 1024;
const portCount = 65536 - firstPort;

export class NatTable {
  readonly outsideIp: string;
  readonly mapping: NatMapping;
  readonly filtering: NatFiltering;
  readonly idleTimeoutMs: number;
  private readonly preservePort: boolean;
  private readonly byKey = new Map<string, Mapping>();
  private readonly byPort = new Map<number, Mapping>();
  private nextPort = 40000;

  constructor(opts: NatOptions) {
    this.outsideIp = opts.outsideIp;
    this.mapping = opts.mapping ?? 'endpoint-independent';
    this.filtering = opts.filtering ?? 'address-and-port-dependent';
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    this.preservePort = opts.preservePort ?? true;
  }

  /** Translates an inside source for a datagram to `dst`; undefined when the port space is exhausted. */
  outbound(src: Endpoint, dst: Endpoint, nowMs: number): Endpoint | undefined {
    const key = this.mapping === 'endpoint-independent' ? endpointKey(src) : `${endpointKey(src)}>${endpointKey(dst)}`;
    let m = this.live(this.byKey.get(key), nowMs);
    if (!m) {
      const port = this.allocatePort(src.port, nowMs);
      if (port === undefined) return undefined;
      m = { key, inside: src, outsidePort: port, lastUsedMs: nowMs, allowed: new Set() };
      this.byKey.set(key, m);
      this.byPort.set(port, m);
    }
    m.lastUsedMs = nowMs;
    if (this.filtering === 'address-dependent') m.allowed.add(dst.host);
    else if (this.filtering === 'address-and-port-dependent') m.allowed.add(endpointKey(dst));
    return { host: this.outsideIp, port: m.outsidePort };
  }

  /** The inside endpoint for a datagram from `src` to our outside `port`, or undefined (filtered). */
  inbound(port: number, src: Endpoint, nowMs: number): Endpoint | undefined {
    const m = this.live(this.byPort.get(port), nowMs);
    if (!m) return undefined;
    if (this.filtering === 'address-dependent' && !m.allowed.has(src.host)) return undefined;
    if (this.filtering === 'address-and-port-dependent' && !m.allowed.has(endpointKey(src))) return undefined;
    m.lastUsedMs = nowMs;
    return m.inside;
  }

  /** Live mappings (expired ones are dropped on the way). */
  activeMappings(nowMs: number): number {
    for (const m of [...this.byPort.values()]) this.live(m, nowMs);
    return this.byPort.size;
  }

  /** The outside port currently mapped for an inside endpoint (endpoint-independent mapping only). */
  outsidePortOf(inside: Endpoint, nowMs: number): number | undefined {
    return this.live(this.byKey.get(endpointKey(inside)), nowMs)?.outsidePort;
  }

  private live(m: Mapping | undefined, nowMs: number): Mapping | undefined {
    if (!m) return undefined;
    if (nowMs - m.lastUsedMs <= this.idleTimeoutMs) return m;
    this.byKey.delete(m.key);
    this.byPort.delete(m.outsidePort);
    return undefined;
  }

  private allocatePort(wanted: number, nowMs: number): number | undefined {
    const free = (p: number): boolean => this.live(this.byPort.get(p), nowMs) === undefined;
    if (this.preservePort && wanted >= firstPort && free(wanted)) return wanted;
    for (let i = 0; i < portCount; i++) {
      const p = firstPort + ((this.nextPort - firstPort + i) % portCount);
      if (free(p)) {
        this.nextPort = p + 1;
        return p;
      }
    }
    return undefined;
  }
}
