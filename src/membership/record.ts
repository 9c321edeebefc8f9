// The node record: what one node tells the mesh about itself, and the order in which records of the same
// node replace each other.
import { z } from 'zod';

/** Node ids (node names) are restricted so they can sit unquoted in the auth header and in logs. */
export const nodeIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export interface NodeRecord {
  /** Node name, unique in the mesh. */
  readonly id: string;
  /** Start time (wall ms) of this instance: a restarted node has a higher epoch and replaces the old record. */
  readonly epoch: number;
  /** Bumped by the owner on every change of the record, and to refute suspicion of its death. */
  readonly version: number;
  /** WireGuard public key, base64. */
  readonly publicKey: string;
  /** Overlay CIDRs of the node (its own addresses with the mesh prefix). */
  readonly addresses: readonly string[];
  /** UDP endpoints `ip:port` (IPv6 in brackets). */
  readonly endpoints: readonly string[];
  /** The node's control API URL. */
  readonly apiUrl: string;
  /** Transport methods in order of preference. */
  readonly methods: readonly string[];
  /** Extra subnets routed to this node. */
  readonly routes: readonly string[];
  /** Multicast groups local applications joined (routing/fanout.ts); absent from older nodes. */
  readonly groups?: readonly string[];
  /**
   * `outbound`: the node is behind a NAT or firewall and takes no inbound connections (reachability.ts):
   * members do not contact its API and learn its UDP endpoint only from its authenticated packets.
   * Absent = `direct`.
   */
  readonly reach?: Reach;
  /**
   * The node's record signing key (Ed25519, base64), derived from its WireGuard private key
   * (crypto/sign.ts). Optional in the type only for unit tests of unrelated logic: the wire schema
   * requires it and the membership core refuses a record without a valid signature.
   */
  readonly sigKey?: string;
  /** Ed25519 signature by `sigKey` over every other field (record-auth.ts: signedPayload). */
  readonly sig?: string;
  /**
   * After a live key rotation: statements by the previous keys, newest first. `prev[0]` is signed by the
   * key before `sigKey` and names (id, sigKey, epoch); `prev[i]` by the key before `prev[i-1].sigKey`.
   */
  readonly prev?: readonly RotationLink[];
}

/** One key change: `sig` by `sigKey` (the older key) over (id, the next key, epoch). */
export interface RotationLink {
  readonly sigKey: string;
  readonly sig: string;
}

/** How many past keys a record may vouch for (rotations within one epoch that a member may have missed). */
export const maxRotationLinks = 4;

/** Whether other nodes can open connections to a node (`direct`) or only it to them (`outbound`). */
export type Reach = 'direct' | 'outbound';

const shortString = z.string().min(1).max(256);

export const nodeIdSchema = z.string().regex(nodeIdPattern);

/** Wire validation of a record. Semantics (CIDR syntax, key length) are the daemon's; here only shape and size. */
export const nodeRecordSchema = z
  .object({
    id: nodeIdSchema,
    epoch: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    version: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    publicKey: z.string().max(128),
    addresses: z.array(shortString).max(16),
    endpoints: z.array(shortString).max(16),
    apiUrl: z.string().max(512),
    methods: z.array(z.string().min(1).max(32)).max(8),
    routes: z.array(shortString).max(256),
    groups: z.array(z.string().min(1).max(64)).max(256).optional(),
    reach: z.enum(['direct', 'outbound']).optional(),
    // Sizes only (base64 of 32 and 64 bytes is 44 and 88 characters); the core decodes and counts the rest.
    sigKey: z.string().max(64),
    sig: z.string().max(128),
    prev: z
      .array(z.object({ sigKey: z.string().max(64), sig: z.string().max(128) }).strict())
      .min(1)
      .max(maxRotationLinks)
      .optional(),
  })
  .strict();

/** Orders two incarnations of the same node: epoch first, then version. */
export function compareIncarnation(
  a: { readonly epoch: number; readonly version: number },
  b: { readonly epoch: number; readonly version: number },
): number {
  return a.epoch !== b.epoch ? Math.sign(a.epoch - b.epoch) : Math.sign(a.version - b.version);
}

/** The host address of an overlay CIDR in a canonical form, so `fd00::1/64` and `fd00:0::1/128` collide. */
export function addressKey(cidr: string): string {
  const slash = cidr.indexOf('/');
  const ip = (slash < 0 ? cidr : cidr.slice(0, slash)).trim().toLowerCase();
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}
