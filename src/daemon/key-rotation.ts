// Live rotation of this node's static WireGuard key (`tunmesh keys rotate`, POST /v1/key/rotate). The
// CLI writes the new key to node.privateKeyFile (so a restart keeps it) and hands it to the daemon over
// the TLS API: after the privilege drop the daemon can no longer read root's 0600 key file.
//
// Order matters. The data plane swaps first: every session under the old key ends and every peer stays
// installed, so the next packet to a peer starts a handshake with the new key. Then the record with the
// new key (same epoch, next version) is pushed to every live member at once; a member that installs it
// drops the old key's peer and sessions (as for a restart with a new key) and handshakes with the new one.
// Until a member has the record its handshakes to us fail (our mac1 key changed), so the push, not the
// gossip round, bounds the gap.
import type { ErrorCode } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { Secret } from '../base/secret.js';
import { encodeKey, publicKeyOf } from '../crypto/keys.js';
import type { DataPlaneEngine } from '../dataplane/engine.js';
import type { NodeRecord } from '../membership/record.js';
import { recordAuth, type RecordAuth } from '../membership/record-auth.js';

export type KeyRotationResult =
  | {
      readonly ok: true;
      /** The new public key, now in force and announced. */
      readonly publicKey: string;
      readonly previousPublicKey: string;
      /** Live members the new record goes to (pushed at once; by gossip to those taking no requests). */
      readonly liveMembers: number;
      /** Static peers (wireguard.staticPeers): they name the old key in their own config. */
      readonly staticPeers?: string[];
    }
  | { readonly ok: false; readonly code: ErrorCode; readonly error: string; readonly hint?: string };

/** Answer to a check-only request: a rotation would be accepted now; or why not. */
export type RotationCheck = { readonly ok: true; readonly check: true } | Extract<KeyRotationResult, { ok: false }>;

export type RotationPlan =
  { readonly ok: true; readonly publicKey: string } | Extract<KeyRotationResult, { ok: false }>;

/**
 * Whether `candidate` may replace the running key: it must differ from it and from every member's key
 * (two nodes with one key would take each other's sessions).
 */
export function planRotation(
  currentPublicKey: string,
  candidate: Uint8Array,
  memberKeys: Iterable<readonly [string, string]>,
): RotationPlan {
  if (candidate.length !== 32)
    return refused('the new private key is not 32 bytes', 'send a key `tunmesh keys generate` makes');
  const publicKey = encodeKey(publicKeyOf(candidate));
  if (publicKey === currentPublicKey)
    return refused('the new key is the key this node already runs with', 'generate a new key');
  for (const [id, key] of memberKeys)
    if (key === publicKey)
      return refused(`node ${id} already uses this public key`, 'generate a new key; never copy keys between nodes');
  return { ok: true, publicKey };
}

export function refused(error: string, hint?: string): Extract<KeyRotationResult, { ok: false }> {
  return { ok: false, code: 'KEY_ROTATION_REFUSED', error, ...(hint !== undefined && { hint }) };
}

export interface KeyRotationTarget {
  readonly log: Logger;
  readonly engine: DataPlaneEngine | undefined;
  readonly transport: { setSelfKey(publicKey: Uint8Array): void } | undefined;
  readonly membership:
    | {
        self(): NodeRecord;
        members(): readonly { readonly id: string; readonly state: string; readonly record?: NodeRecord | undefined }[];
        rotateIdentity(auth: RecordAuth, patch: { publicKey: string }): void;
      }
    | undefined;
}

/** Why this node cannot swap its key live right now, or undefined when it can. */
export function cannotRotate(t: KeyRotationTarget): Extract<KeyRotationResult, { ok: false }> | undefined {
  if (!t.engine || !t.membership)
    return refused('the node is not running yet', 'wait until `tunmesh status` answers, then rotate again');
  if (!t.engine.replaceIdentity)
    return refused(`the ${t.engine.kind} data-plane engine cannot swap keys live`, 'restart the node to use a new key');
  return undefined;
}

/** Swaps the key in the data plane, the transport layer and this node's record, in that order. */
export function rotateNodeKey(t: KeyRotationTarget, privateKey: Secret<Uint8Array>): KeyRotationResult {
  const no = cannotRotate(t);
  if (no) return no;
  const engine = t.engine!;
  const membership = t.membership!;
  const previous = membership.self().publicKey;
  const members = membership.members();
  const plan = planRotation(
    previous,
    privateKey.expose(),
    members.filter((m) => m.record).map((m) => [m.id, m.record!.publicKey] as const),
  );
  if (!plan.ok) return plan;
  engine.replaceIdentity!(privateKey);
  t.transport?.setSelfKey(publicKeyOf(privateKey.expose()));
  // The record with the new key is signed by the new key and vouched for by the old one, so members
  // accept the key change while this node is alive (membership/core.ts: key continuity).
  membership.rotateIdentity(recordAuth(privateKey.expose()), { publicKey: plan.publicKey });
  const liveMembers = members.filter((m) => m.state !== 'dead' && m.record).length;
  t.log.info({ publicKey: plan.publicKey, previousPublicKey: previous, liveMembers }, 'node key rotated live');
  return { ok: true, publicKey: plan.publicKey, previousPublicKey: previous, liveMembers };
}
