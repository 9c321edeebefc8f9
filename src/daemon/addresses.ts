// Resolves node.addresses before the TUN is set up when the config asks for a pool IPv4 or a derived IPv6
// (docs/ADDRESSING.md). What the mesh already holds comes from the bootstrap nodes' status; the address
// claims in membership stay the final arbiter, so a node that loses a race for an address is refused by
// everyone, and the error this module logs tells the operator to restart it (it then picks the next one).
import type { Logger } from '../base/log.js';
import { TunmeshError } from '../base/errors.js';
import type { Config } from '../config/index.js';
import { ControlClient } from '../control/client.js';
import type { Secret } from '../base/secret.js';
import { ipv6Collision, ipv6FromIpv4, ipv6FromPublicKey, pickIpv4 } from '../routing/addressing.js';

/** Overlay address (bare, canonical) -> the node that holds it. */
export type HeldAddresses = Map<string, string>;

interface StatusShape {
  node?: { name?: unknown; addresses?: unknown };
  peers?: { name?: unknown; kind?: unknown; addresses?: unknown }[];
}

const bare = (cidr: string): string => cidr.split('/')[0]!.toLowerCase();

function addHeld(held: HeldAddresses, name: unknown, addresses: unknown): void {
  if (typeof name !== 'string' || !Array.isArray(addresses)) return;
  for (const a of addresses) if (typeof a === 'string') held.set(bare(a), name);
}

/** Addresses the mesh holds, as the first bootstrap node that answers reports them (bounded retries). */
export async function heldByMesh(o: {
  readonly config: Config;
  readonly secret: Secret<Uint8Array | string>;
  readonly log: Logger;
  readonly sleep?: (ms: number) => Promise<void>;
}): Promise<HeldAddresses | undefined> {
  const { config } = o;
  if (config.cluster.bootstrap.length === 0) return new Map();
  const client = await ControlClient.create({
    nodeId: config.node.name,
    secret: o.secret,
    trust: config.control.tls.caFile ?? config.control.tls.certFile,
    checkHostname: config.control.tls.verifyHostname,
    timeoutMs: config.membership.requestTimeoutMs,
    logger: o.log,
  });
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  try {
    let delay = config.membership.bootstrapRetryMinMs;
    for (let round = 0; round < 5; round++) {
      for (const url of config.cluster.bootstrap) {
        try {
          // /v1/addresses answers members; a node older than it only has /v1/status (then still open to them).
          const res = await client
            .request(url, { method: 'GET', path: '/v1/addresses', to: '*' })
            .catch((e: unknown) => {
              if ((e as { code?: string }).code !== 'NOT_FOUND') throw e;
              return client.request(url, { method: 'GET', path: '/v1/status', to: '*' });
            });
          const body = res.body as StatusShape;
          const held: HeldAddresses = new Map();
          addHeld(held, body.node?.name, body.node?.addresses);
          for (const p of body.peers ?? []) if (p.kind === 'mesh') addHeld(held, p.name, p.addresses);
          return held;
        } catch (e) {
          o.log.debug({ url, err: (e as Error).message }, 'address resolution: bootstrap node not answering yet');
        }
      }
      await sleep(delay);
      delay = Math.min(delay * 2, config.membership.bootstrapRetryMaxMs);
    }
    return undefined;
  } finally {
    client.close();
  }
}

/**
 * node.addresses with the pool IPv4 and the derived IPv6 filled in. Pure given `held`; throws
 * CONFIG_INVALID with a clear message on a full pool or a derived-IPv6 collision.
 */
export function resolveAddresses(config: Config, publicKey: Uint8Array, held: HeldAddresses): string[] {
  const n = config.node;
  const out = [...n.addresses];
  const has = (family: 4 | 6) => out.some((a) => a.includes(':') === (family === 6));
  if (n.ipv4Pool && !has(4)) {
    // The address this node held before a restart, when the mesh still remembers it.
    const previous = [...held].find(([a, id]) => id === n.name && !a.includes(':'))?.[0];
    const r = pickIpv4(n.ipv4Pool, n.name, held, previous);
    if (!r.ok) throw new TunmeshError('CONFIG_INVALID', r.error);
    out.push(r.cidr);
  }
  if (n.ipv6Prefix && !has(6)) {
    const v4 = out.find((a) => !a.includes(':'));
    const source = n.ipv6Derive === 'ipv4' ? `IPv4 ${v4 ? bare(v4) : '?'}` : 'the public key hash';
    const r =
      n.ipv6Derive === 'ipv4' ? ipv6FromIpv4(n.ipv6Prefix, v4 ?? '') : ipv6FromPublicKey(n.ipv6Prefix, publicKey);
    if (!r.ok) throw new TunmeshError('CONFIG_INVALID', `node.ipv6Prefix: ${r.error}`);
    const others = [...held].filter(([, id]) => id !== n.name).map(([a, id]) => [id, a] as const);
    const clash = ipv6Collision({ address: r.address, source, prefix: n.ipv6Prefix }, others);
    if (clash) throw new TunmeshError('CONFIG_INVALID', `node.ipv6Prefix: ${clash}`);
    out.push(r.cidr);
  }
  return out;
}

/** The config with node.addresses resolved; the same config when nothing is derived. */
export async function withResolvedAddresses(o: {
  readonly config: Config;
  readonly secret: Secret<Uint8Array | string>;
  readonly publicKey: Uint8Array;
  readonly log: Logger;
}): Promise<Config> {
  const n = o.config.node;
  const needs4 = !!n.ipv4Pool && !n.addresses.some((a) => !a.includes(':'));
  const needs6 = !!n.ipv6Prefix && !n.addresses.some((a) => a.includes(':'));
  if (!needs4 && !needs6) return o.config;
  const held = await heldByMesh(o);
  if (!held)
    o.log.warn(
      { bootstrap: o.config.cluster.bootstrap },
      'no bootstrap node answered: picking addresses without knowing what the mesh holds (a clash is refused by the mesh)',
    );
  const addresses = resolveAddresses(o.config, o.publicKey, held ?? new Map());
  o.log.info({ addresses, pool: n.ipv4Pool, ipv6Prefix: n.ipv6Prefix }, 'overlay addresses resolved');
  return { ...o.config, node: { ...n, addresses } };
}
