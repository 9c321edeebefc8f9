// Parsers for the address syntaxes the config accepts. They return undefined instead of throwing, so the
// schema can turn a miss into one issue with a rule that says what was expected.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface Cidr {
  readonly family: IpFamily;
  /** The host address as written (IPv6 in canonical lower-case compressed form). */
  readonly address: string;
  readonly prefixLength: number;
}

export interface HostPort {
  readonly family: IpFamily;
  readonly host: string;
  readonly port: number;
}

/** Canonical text of an IP literal (no zone id, no brackets), or undefined. */
export function parseIp(s: string): { family: IpFamily; address: string } | undefined {
  if (isIPv4(s)) return { family: 4, address: s };
  if (s.includes('%') || !isIPv6(s)) return undefined;
  // The WHATWG URL parser canonicalises IPv6 literals (RFC 5952): lower case, longest zero run compressed.
  const address = new URL(`http://[${s}]/`).hostname.slice(1, -1);
  return { family: 6, address };
}

/** `198.19.0.1/16` or `fd00::1/64`; host bits are kept because the address is the node's own. */
export function parseCidr(s: string): Cidr | undefined {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIp(m[1]!);
  if (!ip) return undefined;
  const prefixLength = Number(m[2]);
  if (prefixLength > (ip.family === 4 ? 32 : 128)) return undefined;
  return { family: ip.family, address: ip.address, prefixLength };
}

export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefixLength}`;
}

/** `1.2.3.4:51820` or `[fd00::1]:51820`; port 0 is allowed only when `allowPortZero` (listen addresses). */
export function parseHostPort(s: string, opts: { allowPortZero?: boolean } = {}): HostPort | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const bracketed = m[1];
  const ip = parseIp(bracketed ?? m[2]!);
  if (!ip || (bracketed !== undefined) !== (ip.family === 6)) return undefined;
  const port = Number(m[3]);
  if (port > 65535 || (port === 0 && !opts.allowPortZero)) return undefined;
  return { family: ip.family, host: ip.address, port };
}

export function formatHostPort(h: { host: string; port: number }): string {
  return isIPv6(h.host) ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

/** An https URL naming a host (IP or DNS name) and optionally a port; no credentials, query or fragment. */
export function parseHttpsUrl(s: string): URL | undefined {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' || u.hostname === '' || u.username !== '' || u.password !== '') return undefined;
  if (u.search !== '' || u.hash !== '') return undefined;
  return u;
}

/** True for 0.0.0.0 and ::, the addresses that mean "every interface" rather than one host. */
export function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/**
 * Address ranges that can never be an overlay address or prefix: packets to them are not routed (link-local,
 * loopback, unspecified), are group traffic (multicast), or would be read as IPv4 by dual-stack sockets.
 */
const specialRanges: readonly { family: IpFamily; network: string; prefixLength: number; what: string }[] = [
  { family: 4, network: '0.0.0.0', prefixLength: 8, what: 'unspecified (0.0.0.0/8)' },
  { family: 4, network: '127.0.0.0', prefixLength: 8, what: 'loopback (127.0.0.0/8)' },
  { family: 4, network: '169.254.0.0', prefixLength: 16, what: 'link-local (169.254.0.0/16)' },
  { family: 4, network: '224.0.0.0', prefixLength: 4, what: 'multicast (224.0.0.0/4)' },
  { family: 6, network: '::', prefixLength: 128, what: 'unspecified (::)' },
  { family: 6, network: '::1', prefixLength: 128, what: 'loopback (::1)' },
  { family: 6, network: '::ffff:0:0', prefixLength: 96, what: 'IPv4-mapped (::ffff:0:0/96)' },
  { family: 6, network: 'fe80::', prefixLength: 10, what: 'link-local (fe80::/10)' },
  { family: 6, network: 'ff00::', prefixLength: 8, what: 'multicast (ff00::/8)' },
];

const ipType = (f: IpFamily) => (f === 4 ? 'ipv4' : 'ipv6');

/**
 * The special range (as text) `c` falls in, or undefined. `as: 'address'` judges the host address alone
 * (node.addresses: the prefix part is the mesh network); `as: 'prefix'` refuses any overlap (pools).
 */
export function specialUse(c: Cidr, as: 'address' | 'prefix'): string | undefined {
  const whole = new BlockList();
  whole.addSubnet(c.address, c.prefixLength, ipType(c.family));
  for (const r of specialRanges) {
    if (r.family !== c.family) continue;
    const range = new BlockList();
    range.addSubnet(r.network, r.prefixLength, ipType(r.family));
    if (range.check(c.address, ipType(c.family))) return r.what;
    if (as === 'prefix' && whole.check(r.network, ipType(r.family))) return r.what;
  }
  return undefined;
}

/** Loopback, in both families. */
export const loopbackPrefixes: readonly string[] = ['127.0.0.0/8', '::1/128'];

/** True when `host` lies inside one of `cidrs` (unparsable ones are skipped). */
export function cidrsContain(cidrs: readonly string[], host: string): boolean {
  const ip = parseIp(host);
  if (!ip) return false;
  const list = new BlockList();
  for (const text of cidrs) {
    const c = parseCidr(text);
    if (c && c.family === ip.family) list.addSubnet(c.address, c.prefixLength, ipType(c.family));
  }
  return list.check(ip.address, ipType(ip.family));
}
