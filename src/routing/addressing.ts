// Overlay addresses a node does not list itself: IPv6 derived from a prefix and the node's IPv4 (as
// StartTunnel) or from its public key (as smegmesh), and IPv4 picked from a pool. Pure: the formulas are
// in docs/ADDRESSING.md and the unit tests check them; the daemon feeds in what the mesh already holds.
import { createHash } from 'node:crypto';
import { formatAddress, parseAddress, parseCidr, type Cidr } from '../wire/ip.js';

export type AddressResult = { ok: true; cidr: string; address: string } | { ok: false; error: string };

/** 128-bit big-endian bytes -> bigint and back. */
function toBig(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}
function fromBig(v: bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function v6Prefix(prefix: string): Cidr | string {
  const c = parseCidr(prefix);
  if (!c || c.addr.length !== 16) return `ipv6 prefix "${prefix}" is not an IPv6 CIDR`;
  if (c.prefixLength > 127) return `ipv6 prefix ${prefix} leaves no host bits (use /127 or shorter)`;
  return c;
}

/** Clamps `host` to the prefix's host bits and places it there; refuses the all-zero host. */
function place(c: Cidr, host: bigint, source: string): AddressResult {
  const hostBits = 128 - c.prefixLength;
  const clamped = host & ((1n << BigInt(hostBits)) - 1n);
  const text = formatAddress(fromBig(toBig(c.addr) | clamped, 16))!;
  if (clamped === 0n)
    return {
      ok: false,
      error: `${source} gives the all-zero host ${text} in /${c.prefixLength} (the subnet-router anycast address); pick another address or a shorter prefix`,
    };
  return { ok: true, cidr: `${text}/${c.prefixLength}`, address: text };
}

/**
 * IPv6 from the node's IPv4: address = prefix | (ipv4 mod 2^(128-len)). Up to /96 the whole IPv4 fits, so
 * distinct IPv4s give distinct IPv6s; beyond /96 only the low (128-len) bits are kept and two IPv4s that agree
 * on them collide (see ipv6Collision).
 */
export function ipv6FromIpv4(prefix: string, ipv4: string): AddressResult {
  const c = v6Prefix(prefix);
  if (typeof c === 'string') return { ok: false, error: c };
  const v4 = parseAddress(ipv4.split('/')[0]!);
  if (!v4 || v4.length !== 4) return { ok: false, error: `"${ipv4}" is not an IPv4 address` };
  return place(c, toBig(v4), `IPv4 ${formatAddress(v4)}`);
}

/** IPv6 from the public key: host bits = the low (128-len) bits of the first 16 bytes of SHA-256(key). */
export function ipv6FromPublicKey(prefix: string, publicKey: Uint8Array): AddressResult {
  const c = v6Prefix(prefix);
  if (typeof c === 'string') return { ok: false, error: c };
  if (publicKey.length !== 32) return { ok: false, error: 'public key must be 32 bytes' };
  const digest = createHash('sha256').update(publicKey).digest();
  return place(c, toBig(digest.subarray(0, 16)), 'the public key hash');
}

/** The same address, whatever its spelling. */
function sameHost(a: string, b: string): boolean {
  const x = parseAddress(a);
  const y = parseAddress(b);
  return !!x && !!y && x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * The first other node whose derived IPv6 equals ours, with a message saying why; undefined when none.
 * `others` are the IPv6 addresses (bare or CIDR) other live nodes hold, keyed by node id.
 */
export function ipv6Collision(
  mine: { readonly address: string; readonly source: string; readonly prefix: string },
  others: Iterable<readonly [id: string, address: string]>,
): string | undefined {
  for (const [id, a] of others) {
    if (!sameHost(mine.address, a.split('/')[0]!)) continue;
    const len = parseCidr(mine.prefix)?.prefixLength ?? 0;
    const why =
      len > 96 ? ` (a /${len} keeps only the low ${128 - len} bits of the IPv4; /96 or shorter never collides)` : '';
    return `derived IPv6 ${mine.address} from ${mine.source} is already held by node ${id}${why}; refusing to start`;
  }
  return undefined;
}

/** Usable host range of an IPv4 pool: the network and broadcast addresses are skipped up to /30. */
function poolRange(pool: Cidr): { first: number; count: number } {
  const len = pool.prefixLength;
  const size = 2 ** (32 - len);
  const base = Number(toBig(pool.addr));
  return len <= 30 ? { first: base + 1, count: size - 2 } : { first: base, count: size };
}

/** Where a node's search in the pool starts: SHA-256 of its name, so a name always starts at the same place. */
export function poolStart(name: string, count: number): number {
  const d = createHash('sha256').update(`tunmesh-ipv4-pool:${name}`).digest();
  return Number(d.readBigUInt64BE(0) % BigInt(count));
}

/**
 * The candidate sequence of `name` in `pool`: start = hash(name) mod usable, then each next address (linear
 * probing, wrapping), so every usable address appears exactly once.
 */
export function* ipv4Candidates(pool: string, name: string): Generator<string> {
  const c = parseCidr(pool);
  if (!c || c.addr.length !== 4) return;
  const { first, count } = poolRange(c);
  const start = poolStart(name, count);
  for (let i = 0; i < count; i++) {
    const v = first + ((start + i) % count);
    yield formatAddress(fromBig(BigInt(v), 4))!;
  }
}

/**
 * Picks this node's IPv4 from the pool: the address the mesh still knows for this node (a restart before
 * the old record expired) when it is in the pool and not held by another node, else the first candidate no
 * other node holds. Returns `addr/poolLen`, or an error when the pool is full or malformed.
 */
export function pickIpv4(
  pool: string,
  name: string,
  taken: ReadonlyMap<string, string>,
  previous?: string,
): AddressResult {
  const c = parseCidr(pool);
  if (!c || c.addr.length !== 4) return { ok: false, error: `ipv4 pool "${pool}" is not an IPv4 CIDR` };
  const heldByOther = (a: string): boolean => {
    const holder = taken.get(a);
    return holder !== undefined && holder !== name;
  };
  const inPool = (a: string): boolean => {
    const p = parseCidr(`${a}/${c.prefixLength}`);
    return !!p && p.addr.length === 4 && p.addr.every((v, i) => v === c.addr[i]);
  };
  if (previous && inPool(previous) && !heldByOther(previous) && poolRange(c).count > 0) {
    const { first, count } = poolRange(c);
    const v = Number(toBig(parseAddress(previous)!));
    if (v >= first && v < first + count) return { ok: true, cidr: `${previous}/${c.prefixLength}`, address: previous };
  }
  for (const a of ipv4Candidates(pool, name))
    if (!heldByOther(a)) return { ok: true, cidr: `${a}/${c.prefixLength}`, address: a };
  return { ok: false, error: `ipv4 pool ${pool} is full: every usable address is held by another node` };
}
