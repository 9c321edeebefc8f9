// Redundant exits: when several nodes advertise the same subnet route, each flow (5-tuple) goes to one of
// them, picked by rendezvous (highest-random-weight) hashing over the live exits. A flow keeps its exit as
// long as that exit lives; when one dies only its flows move, spread over the rest. Pure and engine-neutral:
// the JS engine calls it per packet of a multi-exit route; the native engine punts such routes to JS.
import { formatCidr, parseCidr } from '../wire/ip.js';

/** One spelling per CIDR, so 198.19.5.1/24 and 198.19.5.0/24 are the same route. */
const canon = (cidr: string): string => {
  const c = parseCidr(cidr);
  return c ? formatCidr(c) : cidr;
};

/** A route with more than one exit: the value the allowed-IPs trie holds for such a CIDR. */
export interface MultiExit {
  readonly cidr: string;
  /** Public keys of the exits, sorted (the order never matters to pickExit). */
  readonly exits: readonly string[];
}

/** Which peers advertise each CIDR. */
export class ExitSets {
  readonly #byCidr = new Map<string, string[]>();

  /** Adds `peer` as an exit of `cidr`; returns the exits now. */
  add(cidr: string, peer: string): readonly string[] {
    cidr = canon(cidr);
    const list = this.#byCidr.get(cidr) ?? [];
    if (!list.includes(peer)) {
      list.push(peer);
      list.sort();
    }
    this.#byCidr.set(cidr, list);
    return list;
  }

  /** Removes `peer` as an exit of `cidr`; returns the exits left (empty: the route is gone). */
  remove(cidr: string, peer: string): readonly string[] {
    cidr = canon(cidr);
    const list = (this.#byCidr.get(cidr) ?? []).filter((p) => p !== peer);
    if (list.length) this.#byCidr.set(cidr, list);
    else this.#byCidr.delete(cidr);
    return list;
  }

  exits(cidr: string): readonly string[] {
    return this.#byCidr.get(canon(cidr)) ?? [];
  }
}

/** What the trie should hold for a CIDR with these exits: one key, a MultiExit, or nothing. */
export function routeValue(cidr: string, exits: readonly string[]): string | MultiExit | undefined {
  if (exits.length === 0) return undefined;
  if (exits.length === 1) return exits[0]!;
  return { cidr, exits: [...exits] };
}

/** True when `peer` may send from an address whose route value is `value` (the source check). */
export function isExitOf(value: string | MultiExit | undefined, peer: string): boolean {
  return value === peer || (typeof value === 'object' && value.exits.includes(peer));
}

const fnvOffset = 0x811c9dc5;
const fnvPrime = 0x01000193;

function fnv(h: number, b: number): number {
  return Math.imul(h ^ b, fnvPrime) >>> 0;
}

/** A final mix so nearby inputs spread over the whole 32 bits (murmur3's fmix32). */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hash of a packet's 5-tuple: source and destination address, protocol, and for TCP/UDP/SCTP/UDP-Lite the
 * ports. IPv4 fragments hash on addresses and protocol only (later fragments carry no ports, and all
 * fragments of a datagram must take the same exit). Never throws; a malformed packet hashes to 0.
 */
export function flowHash(p: Uint8Array): number {
  if (p.length < 1) return 0;
  const version = p[0]! >> 4;
  let h = fnvOffset;
  let proto: number;
  let l4: number;
  if (version === 4) {
    if (p.length < 20) return 0;
    for (let i = 12; i < 20; i++) h = fnv(h, p[i]!);
    proto = p[9]!;
    const fragmented = (p[6]! & 0x20) !== 0 || (((p[6]! & 0x1f) << 8) | p[7]!) !== 0;
    l4 = fragmented ? -1 : (p[0]! & 0xf) * 4;
  } else if (version === 6) {
    if (p.length < 40) return 0;
    for (let i = 8; i < 40; i++) h = fnv(h, p[i]!);
    proto = p[6]!;
    l4 = 40;
  } else return 0;
  h = fnv(h, proto);
  if (l4 >= 0 && (proto === 6 || proto === 17 || proto === 132 || proto === 136) && p.length >= l4 + 4)
    for (let i = l4; i < l4 + 4; i++) h = fnv(h, p[i]!);
  return mix(h);
}

const exitHashes = new Map<string, number>();
function exitHash(exit: string): number {
  let h = exitHashes.get(exit);
  if (h === undefined) {
    h = fnvOffset;
    for (let i = 0; i < exit.length; i++) h = fnv(h, exit.charCodeAt(i) & 0xff);
    h = mix(h);
    // Bounded: one entry per exit ever seen; a mesh has far fewer exits than this.
    if (exitHashes.size > 65_536) exitHashes.clear();
    exitHashes.set(exit, h);
  }
  return h;
}

/** Rendezvous hashing: the exit with the highest weight for this flow (ties: the smaller key). */
export function pickExit(exits: readonly string[], flow: number): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const e of exits) {
    const w = mix((flow ^ exitHash(e)) >>> 0);
    if (w > bestWeight || (w === bestWeight && best !== undefined && e < best)) {
      best = e;
      bestWeight = w;
    }
  }
  return best;
}
