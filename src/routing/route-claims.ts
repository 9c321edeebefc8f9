// Which advertised subnet routes a node installs. A member's record lists routes (node.routes); a route is
// refused, entry by entry (the member keeps its peer and its other routes), when
//  - it equals or covers (contains) the overlay address of another live member (`covers_member`): that
//    member's traffic would go to the advertiser and the advertiser could send as it. Only a route granted
//    as an exit may cover member addresses (a member's own host route stays more specific, so its traffic
//    still reaches it), and no route may equal one;
//  - a cluster policy is set and no grant names the advertiser for a prefix containing the route
//    (`not_granted`), or the route covers member addresses and the grants for it are not exit grants
//    (`exit_not_granted`).
// The rule depends only on the live members' addresses and the policy, so every node with the same view
// and policy decides the same, whatever order records arrived in; when a member whose address a route
// covers joins later, the route is withdrawn. Member addresses and routes sit in one binary trie per family
// with address counts per subtree: a route's check walks its prefix once, and an address change finds the
// routes over it by walking that address's path, so the cost does not grow with the mesh.
import { formatAddress, parseAddress, parseCidr } from '../wire/ip.js';
import { RoutePolicy, prefixContains, type Prefix, type RouteGrant } from './route-policy.js';

export type RefusalReason = 'covers_member' | 'not_granted' | 'exit_not_granted';

export const refusalReasons: Readonly<Record<RefusalReason, string>> = {
  covers_member: 'equals or covers the overlay address of another live member',
  not_granted: 'cluster.routePolicy grants this prefix to no pattern matching the node',
  exit_not_granted: 'covers overlay addresses of other members, and cluster.routePolicy grants it without exit: true',
};

export interface RefusedRoute {
  readonly route: string;
  readonly reason: RefusalReason;
  /** For covers_member / exit_not_granted: a member whose address the route covers, and that address. */
  readonly member?: string;
  readonly address?: string;
}

export interface RouteDecision {
  /** Routes to install, as the record spells them. */
  readonly accepted: readonly string[];
  readonly refused: readonly RefusedRoute[];
}

export interface Claim {
  /** Overlay addresses (CIDR or bare): only the address counts, as a host route. */
  readonly addresses: readonly string[];
  /** Advertised routes; entries that do not parse are neither accepted nor reported. */
  readonly routes: readonly string[];
}

interface TrieNode {
  zero: TrieNode | undefined;
  one: TrieNode | undefined;
  /** Address claims (address, holder) in this subtree. */
  count: number;
  /** At full depth: holder id -> 1. */
  holders: Set<string> | undefined;
  /** Members with a route ending here -> how many of their routes do (two spellings of one CIDR). */
  owners: Map<string, number> | undefined;
}

const newNode = (): TrieNode => ({ zero: undefined, one: undefined, count: 0, holders: undefined, owners: undefined });
const bitAt = (addr: Uint8Array, i: number): number => (addr[i >> 3]! >> (7 - (i & 7))) & 1;

interface Member {
  readonly claim: Claim;
  readonly addresses: readonly Uint8Array[];
  readonly routes: readonly { readonly text: string; readonly prefix: Prefix }[];
  decision: RouteDecision;
}

const none: RouteDecision = { accepted: [], refused: [] };
const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);
const sameDecision = (a: RouteDecision, b: RouteDecision): boolean =>
  sameList(a.accepted, b.accepted) &&
  a.refused.length === b.refused.length &&
  a.refused.every((r, i) => {
    const o = b.refused[i]!;
    return r.route === o.route && r.reason === o.reason && r.member === o.member;
  });

function hostOf(address: string): Uint8Array | undefined {
  const slash = address.indexOf('/');
  return parseAddress(slash < 0 ? address : address.slice(0, slash));
}

export interface RouteClaimsOptions {
  readonly policy?: readonly RouteGrant[] | undefined;
  /** A route of `id` became refused (or its reason changed): count and log it. */
  readonly onRefused?: (id: string, refused: RefusedRoute) => void;
}

export class RouteClaims {
  readonly #v4 = newNode();
  readonly #v6 = newNode();
  readonly #members = new Map<string, Member>();
  #policy: RoutePolicy | undefined;
  readonly #onRefused: ((id: string, r: RefusedRoute) => void) | undefined;

  constructor(o: RouteClaimsOptions = {}) {
    this.#policy = o.policy === undefined ? undefined : new RoutePolicy(o.policy, parseCidr);
    this.#onRefused = o.onRefused;
  }

  /** Number of grants of the policy in force; undefined when no policy is set. */
  get policySize(): number | undefined {
    return this.#policy?.size;
  }

  decision(id: string): RouteDecision {
    return this.#members.get(id)?.decision ?? none;
  }

  accepted(id: string): readonly string[] {
    return this.decision(id).accepted;
  }

  /** Members with refused routes, and those routes. */
  *refused(): Iterable<[string, readonly RefusedRoute[]]> {
    for (const [id, m] of this.#members) if (m.decision.refused.length) yield [id, m.decision.refused];
  }

  /**
   * Sets the live claim of member `id` (undefined: it left or died). Returns the other members whose
   * accepted routes changed (their peers must be installed again); `decision(id)` is `id`'s own.
   */
  set(id: string, claim: Claim | undefined): string[] {
    const old = this.#members.get(id);
    if (old && claim && sameList(old.claim.addresses, claim.addresses) && sameList(old.claim.routes, claim.routes))
      return [];
    const affected = new Set<string>();
    const nextAddresses = claim ? this.#parseAddresses(claim.addresses) : [];
    const addressesChanged = !old || !sameList(old.claim.addresses, claim?.addresses ?? []);
    if (old && addressesChanged) for (const a of old.addresses) this.#removeAddress(a, id, affected);
    if (old) for (const r of old.routes) this.#removeRoute(r.prefix, id);
    if (!claim) {
      this.#members.delete(id);
    } else {
      if (addressesChanged) for (const a of nextAddresses) this.#addAddress(a, id, affected);
      const routes = claim.routes.flatMap((text) => {
        const prefix = parseCidr(text);
        return prefix ? [{ text, prefix }] : [];
      });
      for (const r of routes) this.#addRoute(r.prefix, id);
      const m: Member = { claim, addresses: nextAddresses, routes, decision: old?.decision ?? none };
      this.#members.set(id, m);
      this.#redecide(id, m);
    }
    affected.delete(id);
    return [...affected].sort().filter((x) => {
      const m = this.#members.get(x);
      return m !== undefined && this.#redecide(x, m);
    });
  }

  /** Replaces the policy (a reload); returns the members whose accepted routes changed. */
  setPolicy(grants: readonly RouteGrant[] | undefined): string[] {
    this.#policy = grants === undefined ? undefined : new RoutePolicy(grants, parseCidr);
    return [...this.#members].filter(([id, m]) => m.routes.length > 0 && this.#redecide(id, m)).map(([id]) => id);
  }

  /** Decides `m`'s routes again; true when the accepted list changed. */
  #redecide(id: string, m: Member): boolean {
    const accepted: string[] = [];
    const refused: RefusedRoute[] = [];
    for (const r of m.routes) {
      const why = this.#judge(id, m, r.prefix);
      if (why === undefined) accepted.push(r.text);
      else refused.push({ route: r.text, ...why });
    }
    const next: RouteDecision = { accepted, refused };
    const prev = m.decision;
    if (sameDecision(prev, next)) return false;
    m.decision = next;
    if (this.#onRefused)
      for (const r of refused) {
        const before = prev.refused.find((p) => p.route === r.route);
        if (!before || before.reason !== r.reason) this.#onRefused(id, r);
      }
    return !sameList(prev.accepted, accepted);
  }

  #judge(id: string, m: Member, route: Prefix): Omit<RefusedRoute, 'route'> | undefined {
    const grant = this.#policy?.match(id, route);
    if (grant && !grant.granted) return { reason: 'not_granted' };
    const covered = this.#coveredMember(id, m, route);
    if (covered === undefined) return undefined;
    const host = route.prefixLength === route.addr.length * 8;
    if (!host && grant?.exit) return undefined;
    return { reason: grant && !host ? 'exit_not_granted' : 'covers_member', ...covered };
  }

  #root(addr: Uint8Array): TrieNode {
    return addr.length === 4 ? this.#v4 : this.#v6;
  }

  #parseAddresses(list: readonly string[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const a of list) {
      const h = hostOf(a);
      if (h && !out.some((o) => Buffer.from(o).equals(h))) out.push(h);
    }
    return out;
  }

  /** Adds everyone with a route on `addr`'s path (a route containing it) to `into`. */
  #ownersOver(addr: Uint8Array, into: Set<string>): void {
    let n: TrieNode | undefined = this.#root(addr);
    for (let i = 0; n !== undefined; i++) {
      if (n.owners) for (const o of n.owners.keys()) into.add(o);
      if (i === addr.length * 8) break;
      n = bitAt(addr, i) === 0 ? n.zero : n.one;
    }
  }

  #addAddress(addr: Uint8Array, id: string, affected: Set<string>): void {
    let n = this.#root(addr);
    const path: TrieNode[] = [n];
    for (let i = 0; i < addr.length * 8; i++) {
      n = bitAt(addr, i) === 0 ? (n.zero ??= newNode()) : (n.one ??= newNode());
      path.push(n);
    }
    if (n.holders?.has(id)) return;
    (n.holders ??= new Set()).add(id);
    for (const p of path) p.count++;
    this.#ownersOver(addr, affected);
  }

  #removeAddress(addr: Uint8Array, id: string, affected: Set<string>): void {
    const path = this.#path(addr, addr.length * 8);
    const leaf = path?.at(-1);
    if (!path || !leaf?.holders?.delete(id)) return;
    if (leaf.holders.size === 0) leaf.holders = undefined;
    for (const p of path) p.count--;
    this.#ownersOver(addr, affected);
    this.#prune(path, addr);
  }

  #addRoute(p: Prefix, id: string): void {
    let n = this.#root(p.addr);
    for (let i = 0; i < p.prefixLength; i++)
      n = bitAt(p.addr, i) === 0 ? (n.zero ??= newNode()) : (n.one ??= newNode());
    n.owners ??= new Map();
    n.owners.set(id, (n.owners.get(id) ?? 0) + 1);
  }

  #removeRoute(p: Prefix, id: string): void {
    const path = this.#path(p.addr, p.prefixLength);
    const n = path?.at(-1);
    const k = n?.owners?.get(id);
    if (!path || !n || k === undefined) return;
    if (k > 1) n.owners!.set(id, k - 1);
    else n.owners!.delete(id);
    if (n.owners!.size === 0) n.owners = undefined;
    this.#prune(path, p.addr);
  }

  /** Nodes from the root to depth `bits` along `addr`, or undefined when the path does not exist. */
  #path(addr: Uint8Array, bits: number): TrieNode[] | undefined {
    let n: TrieNode | undefined = this.#root(addr);
    const path: TrieNode[] = [n];
    for (let i = 0; i < bits; i++) {
      n = bitAt(addr, i) === 0 ? n.zero : n.one;
      if (n === undefined) return undefined;
      path.push(n);
    }
    return path;
  }

  #prune(path: TrieNode[], addr: Uint8Array): void {
    for (let i = path.length - 1; i > 0; i--) {
      const n = path[i]!;
      if (n.count > 0 || n.owners || n.zero || n.one) return;
      if (bitAt(addr, i - 1) === 0) path[i - 1]!.zero = undefined;
      else path[i - 1]!.one = undefined;
    }
  }

  /** A member other than `id` with an address inside `route` (the smallest id at the first such address). */
  #coveredMember(id: string, m: Member, route: Prefix): { member: string; address: string } | undefined {
    const path = this.#path(route.addr, route.prefixLength);
    if (!path) return undefined;
    let n = path.at(-1)!;
    // id's own addresses still under the current node: at most a few, so a claim count larger than their
    // number means another member's address is below, and the walk never has to back up.
    let own = m.addresses.filter((a) => prefixContains(route, { addr: a, prefixLength: a.length * 8 }));
    if (n.count <= own.length) return undefined;
    const addr = Uint8Array.from(route.addr);
    for (let i = route.prefixLength; i < addr.length * 8; i++) {
      const ownZero = own.filter((a) => bitAt(a, i) === 0);
      const ownOne = own.filter((a) => bitAt(a, i) === 1);
      if (n.zero && n.zero.count > ownZero.length) {
        n = n.zero;
        own = ownZero;
      } else {
        n = n.one!;
        own = ownOne;
        addr[i >> 3]! |= 0x80 >> (i & 7);
      }
    }
    const member = [...(n.holders ?? [])].filter((h) => h !== id).sort()[0];
    if (member === undefined) return undefined;
    return { member, address: formatAddress(addr) ?? '?' };
  }
}
