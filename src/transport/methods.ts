// Transport-method negotiation (like fastd): each node lists the methods it allows in order of
// preference; a pair uses the first method in the initiator's list that the other node also allows.
// The initiator is the node whose public key (base64 text) sorts first, so both sides compute the same
// answer from the two records alone, without a round trip.

export const transportMethods = ['wireguard', 'tls', 'null'] as const;
export type TransportMethod = (typeof transportMethods)[number];

/** The default list: encrypted UDP, falling back to the TLS stream where UDP does not get through. */
export const defaultMethods: readonly TransportMethod[] = ['wireguard', 'tls'];

export interface MethodSide {
  readonly publicKey: string;
  /** Allowed methods, most preferred first; unknown names are ignored (a newer node's method). */
  readonly methods: readonly string[];
}

export type Negotiated =
  | {
      readonly method: TransportMethod;
      /** True when the pair is on `wireguard` and both allow `tls`: it may fall back to the stream. */
      readonly fallback: boolean;
    }
  | { readonly method: 'none'; readonly reason: string };

const known = (m: string): m is TransportMethod => (transportMethods as readonly string[]).includes(m);

/** True when `a` is the pair's initiator (its key sorts first); a node is never its own peer. */
export function isInitiator(a: string, b: string): boolean {
  return a < b;
}

/** The method a pair uses; symmetric: negotiate(x, y) equals negotiate(y, x). */
export function negotiate(a: MethodSide, b: MethodSide): Negotiated {
  const [first, second] = isInitiator(a.publicKey, b.publicKey) ? [a, b] : [b, a];
  const other = new Set(second.methods.filter(known));
  const method = first.methods.filter(known).find((m) => other.has(m));
  if (method === undefined) {
    const show = (s: MethodSide) => `[${s.methods.join(',')}]`;
    return { method: 'none', reason: `no common transport method: ${show(first)} vs ${show(second)}` };
  }
  const both = (m: TransportMethod) => first.methods.includes(m) && second.methods.includes(m);
  return { method, fallback: method === 'wireguard' && both('tls') };
}
