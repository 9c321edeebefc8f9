// ICMP / ICMPv6 echo packets built and parsed by hand (with real checksums), for the wireguard-go
// interop probe: the kernel on the other side drops packets whose checksums are wrong.
import { formatAddress, parseAddress, peekIp } from '../../src/wire/ip.js';

export function internetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
    if (p.length % 2 === 1) sum += p[p.length - 1]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Echo {
  readonly src: string;
  readonly dst: string;
  /** 'request' or 'reply'. */
  readonly kind: 'request' | 'reply';
  readonly id: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

function addr(s: string): Uint8Array {
  const a = parseAddress(s);
  if (a === undefined) throw new Error(`bad address ${s}`);
  return a;
}

export function buildEcho(e: Echo): Uint8Array {
  const src = addr(e.src);
  const dst = addr(e.dst);
  const v6 = src.length === 16;
  const icmp = new Uint8Array(8 + e.payload.length);
  icmp[0] = v6 ? (e.kind === 'request' ? 128 : 129) : e.kind === 'request' ? 8 : 0;
  icmp[4] = e.id >> 8;
  icmp[5] = e.id & 0xff;
  icmp[6] = e.seq >> 8;
  icmp[7] = e.seq & 0xff;
  icmp.set(e.payload, 8);
  if (!v6) {
    const c = internetChecksum(icmp);
    icmp[2] = c >> 8;
    icmp[3] = c & 0xff;
    const p = new Uint8Array(20 + icmp.length);
    p[0] = 0x45;
    p[2] = p.length >> 8;
    p[3] = p.length & 0xff;
    p[6] = 0x40; // don't fragment
    p[8] = 64;
    p[9] = 1;
    p.set(src, 12);
    p.set(dst, 16);
    const h = internetChecksum(p.subarray(0, 20));
    p[10] = h >> 8;
    p[11] = h & 0xff;
    p.set(icmp, 20);
    return p;
  }
  const c = internetChecksum(src, dst, pseudoTail(icmp.length), icmp);
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  const p = new Uint8Array(40 + icmp.length);
  p[0] = 0x60;
  p[4] = icmp.length >> 8;
  p[5] = icmp.length & 0xff;
  p[6] = 58;
  p[7] = 64;
  p.set(src, 8);
  p.set(dst, 24);
  p.set(icmp, 40);
  return p;
}

function pseudoTail(upperLength: number): Uint8Array {
  return Uint8Array.of(
    upperLength >>> 24,
    (upperLength >> 16) & 0xff,
    (upperLength >> 8) & 0xff,
    upperLength & 0xff,
    0,
    0,
    0,
    58,
  );
}

/** An echo request or reply with valid checksums, or undefined. */
export function parseEcho(packet: Uint8Array): Echo | undefined {
  const r = peekIp(packet);
  if (!r.ok) return undefined;
  const { ip } = r;
  const icmp = packet.subarray(ip.headerLength, ip.totalLength);
  if (icmp.length < 8) return undefined;
  let kind: Echo['kind'];
  if (ip.version === 4) {
    if (ip.protocol !== 1 || internetChecksum(packet.subarray(0, ip.headerLength)) !== 0) return undefined;
    if (internetChecksum(icmp) !== 0) return undefined;
    if (icmp[0] === 8) kind = 'request';
    else if (icmp[0] === 0) kind = 'reply';
    else return undefined;
  } else {
    if (ip.protocol !== 58 || internetChecksum(ip.src, ip.dst, pseudoTail(icmp.length), icmp) !== 0) return undefined;
    if (icmp[0] === 128) kind = 'request';
    else if (icmp[0] === 129) kind = 'reply';
    else return undefined;
  }
  return {
    src: formatAddress(ip.src)!,
    dst: formatAddress(ip.dst)!,
    kind,
    id: (icmp[4]! << 8) | icmp[5]!,
    seq: (icmp[6]! << 8) | icmp[7]!,
    payload: icmp.subarray(8),
  };
}
