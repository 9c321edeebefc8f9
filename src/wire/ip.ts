// IPv4/IPv6 header peek and address/CIDR helpers. Addresses are bytes: 4 for IPv4, 16 for IPv6.
// Nothing here throws on input.
import { isIPv4, isIPv6 } from 'node:net';

export interface IpPeek {
  readonly version: 4 | 6;
  /** The packet's own length from its header (IPv6: 40 + payload length); ≤ the buffer length. */
  readonly totalLength: number;
  readonly headerLength: number;
  /** Views into the packet. */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** IPv4 protocol or IPv6 next header (extension headers are not walked). */
  readonly protocol: number;
  /** IPv4 TTL or IPv6 hop limit. */
  readonly ttl: number;
}

export type IpPeekResult = { ok: true; ip: IpPeek } | { ok: false; reason: 'bad_inner_packet' };

const bad = { ok: false, reason: 'bad_inner_packet' } as const;

export function peekIp(p: Uint8Array): IpPeekResult {
  if (p.length < 1) return bad;
  const version = p[0]! >> 4;
  if (version === 4) {
    if (p.length < 20) return bad;
    const headerLength = (p[0]! & 0x0f) * 4;
    const totalLength = (p[2]! << 8) | p[3]!;
    if (headerLength < 20 || totalLength < headerLength || totalLength > p.length) return bad;
    return {
      ok: true,
      ip: {
        version: 4,
        totalLength,
        headerLength,
        src: p.subarray(12, 16),
        dst: p.subarray(16, 20),
        protocol: p[9]!,
        ttl: p[8]!,
      },
    };
  }
  if (version === 6) {
    if (p.length < 40) return bad;
    const totalLength = 40 + ((p[4]! << 8) | p[5]!);
    if (totalLength > p.length) return bad;
    return {
      ok: true,
      ip: {
        version: 6,
        totalLength,
        headerLength: 40,
        src: p.subarray(8, 24),
        dst: p.subarray(24, 40),
        protocol: p[6]!,
        ttl: p[7]!,
      },
    };
  }
  return bad;
}

/** Parses an IPv4 dotted quad or an IPv6 literal (no zone, no brackets) into 4 or 16 bytes. */
export function parseAddress(s: string): Uint8Array | undefined {
  if (isIPv4(s)) return Uint8Array.from(s.split('.').map(Number));
  if (!isIPv6(s) || s.includes('%')) return undefined;
  let text = s;
  // An embedded IPv4 suffix (::ffff:1.2.3.4) becomes the last two hex groups.
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    const v4 = parseAddress(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    const hi = (v4[0]! << 8) | v4[1]!;
    const lo = (v4[2]! << 8) | v4[3]!;
    text = `${text.slice(0, lastColon + 1)}${hi.toString(16)}:${lo.toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const fill = rest === undefined ? 0 : 8 - h.length - r.length;
  const all = [...h, ...new Array<number>(fill).fill(0), ...r];
  if (all.length !== 8) return undefined;
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Formats 4 or 16 address bytes (IPv6 in RFC 5952 form); undefined for any other length. */
export function formatAddress(b: Uint8Array): string | undefined {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return undefined;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  // The longest run of two or more zero groups becomes '::' (first one on a tie).
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

export interface Cidr {
  /** Network address with the host bits cleared. */
  readonly addr: Uint8Array;
  readonly prefixLength: number;
}

/** Clears the bits after the first `prefixLength` bits (returns a copy). */
export function maskAddress(addr: Uint8Array, prefixLength: number): Uint8Array {
  const out = Uint8Array.from(addr);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefixLength - 8 * i));
    out[i]! &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

/** Parses "addr/len" (or a bare address as a host route); host bits are masked. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  const addr = parseAddress(slash < 0 ? s : s.slice(0, slash));
  if (addr === undefined) return undefined;
  const max = addr.length * 8;
  let prefixLength = max;
  if (slash >= 0) {
    const text = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(text)) return undefined;
    prefixLength = Number(text);
    if (prefixLength > max) return undefined;
  }
  return { addr: maskAddress(addr, prefixLength), prefixLength };
}

export function formatCidr(c: Cidr): string {
  return `${formatAddress(c.addr) ?? '?'}/${c.prefixLength}`;
}
