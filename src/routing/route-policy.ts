// The cluster route policy (`cluster.routePolicy`): which nodes may advertise which subnet routes, and which
// may be exits (routes over other members' overlay addresses, such as a default route). Pure: every node
// applies it with its own config to the records it holds, so nodes with the same policy agree.

/** One grant of the policy, as the config schema validates it. */
export interface RouteGrant {
  /** CIDR; an advertised route is granted when it lies inside it (equal or more specific). */
  readonly prefix: string;
  /** Node names, or globs where `*` matches any run of characters and `?` one character. */
  readonly nodes: readonly string[];
  /** The granted nodes may advertise routes here that cover other members' overlay addresses. */
  readonly exit?: boolean;
}

/** Node names and globs: the characters of node ids (membership/record.ts) plus `*` and `?`. */
export const nodeGlobPattern = /^[A-Za-z0-9._*?-]{1,64}$/;

/** A glob as a regular expression; only `*` and `?` are special (`.` is a literal, as in a node name). */
export function globRegExp(glob: string): RegExp {
  const body = [...glob]
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.\\^$+()[\]{}|-]/g, (c) => `\\${c}`)))
    .join('');
  return new RegExp(`^${body}$`);
}

export function globMatches(glob: string, name: string): boolean {
  return globRegExp(glob).test(name);
}

/** A parsed prefix: family width in bits, the network bits and the prefix length. */
export interface Prefix {
  readonly addr: Uint8Array;
  readonly prefixLength: number;
}

/** True when `inner` lies inside `outer` (same family, no shorter, same leading bits). */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  if (outer.addr.length !== inner.addr.length || outer.prefixLength > inner.prefixLength) return false;
  const full = outer.prefixLength >> 3;
  for (let i = 0; i < full; i++) if (outer.addr[i] !== inner.addr[i]) return false;
  const rest = outer.prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (outer.addr[full]! & mask) === (inner.addr[full]! & mask);
}

export interface GrantMatch {
  /** Some grant for this node contains the route. */
  readonly granted: boolean;
  /** Some such grant is an exit grant. */
  readonly exit: boolean;
}

interface CompiledGrant {
  readonly prefix: Prefix;
  readonly nodes: readonly RegExp[];
  readonly exit: boolean;
}

/** A policy ready to answer "may node N advertise route R"; grants with an unparsable prefix grant nothing. */
export class RoutePolicy {
  readonly #grants: CompiledGrant[];
  /** Node id -> the grants naming it (a node is asked about once per route it advertises). */
  readonly #byNode = new Map<string, CompiledGrant[]>();
  readonly size: number;

  constructor(grants: readonly RouteGrant[], parse: (cidr: string) => Prefix | undefined) {
    this.size = grants.length;
    this.#grants = grants.flatMap((g) => {
      const prefix = parse(g.prefix);
      return prefix ? [{ prefix, nodes: g.nodes.map(globRegExp), exit: g.exit === true }] : [];
    });
  }

  #grantsOf(node: string): CompiledGrant[] {
    let g = this.#byNode.get(node);
    if (!g) {
      g = this.#grants.filter((x) => x.nodes.some((re) => re.test(node)));
      // Bounded by the members seen; a reload builds a new policy.
      if (this.#byNode.size > 100_000) this.#byNode.clear();
      this.#byNode.set(node, g);
    }
    return g;
  }

  match(node: string, route: Prefix): GrantMatch {
    let granted = false;
    let exit = false;
    for (const g of this.#grantsOf(node))
      if (prefixContains(g.prefix, route)) {
        granted = true;
        if (g.exit) exit = true;
      }
    return { granted, exit };
  }
}
