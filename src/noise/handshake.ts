// Noise_IKpsk2 as WireGuard runs it (whitepaper §5.4.2–5.4.5; wireguard-go noise-protocol.go). Pure
// state transitions: ephemeral keys, timestamps, indices and time are passed in. A consume function
// computes on copies and commits to the state only when every check passed, so rejected input never
// changes anything.
import { dh, preparePrivateKey, type PreparedPrivateKey } from '../crypto/keys.js';
import { hash, isZero, kdf1, kdf2, kdf3 } from '../crypto/hash.js';
import { open, seal } from '../crypto/aead.js';
import { compareTai64n, tai64nLength } from '../crypto/tai64n.js';
import { encodeInitiation, encodeResponse, type InitiationMessage, type ResponseMessage } from '../wire/wireguard.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export const noiseConstruction = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
export const wgIdentifier = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
export const initialChainKey: Uint8Array = hash(utf8(noiseConstruction));
export const initialHash: Uint8Array = hash(initialChainKey, utf8(wgIdentifier));

const empty = new Uint8Array(0);

export interface StaticIdentity {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** The private key parsed once (a device keeps one); without it every DH parses the key again. */
  readonly prepared?: PreparedPrivateKey;
}

export type HandshakeStage =
  'zeroed' | 'initiation_created' | 'initiation_consumed' | 'response_created' | 'response_consumed';

export type HandshakeFailure =
  'handshake_failed' | 'replayed_handshake' | 'rate_limited' | 'stale_handshake' | 'handshake_crossed';

export interface ConsumeInitiationOptions {
  readonly now: number;
  /** wg.handshakeInitationRateMs: initiations closer together than this are a flood. */
  readonly initiationRateMs: number;
  /** wg.rekeyTimeoutMs: how long our own initiation counts as in flight for the tie-break. */
  readonly rekeyTimeoutMs: number;
}

/** X25519 that reports a low-order (all-zero) result as undefined instead of throwing. */
function sharedSecret(privateKey: Uint8Array | PreparedPrivateKey, publicKey: Uint8Array): Uint8Array | undefined {
  try {
    const ss = privateKey instanceof Uint8Array ? dh(privateKey, publicKey) : privateKey.dh(publicKey);
    return isZero(ss) ? undefined : ss;
  } catch {
    return undefined;
  }
}

/** One peer's handshake state (wireguard-go's Handshake). */
export class HandshakeState {
  stage: HandshakeStage = 'zeroed';
  hash: Uint8Array = new Uint8Array(32);
  chainKey: Uint8Array = new Uint8Array(32);
  localEphemeral: PreparedPrivateKey | undefined;
  remoteEphemeral: Uint8Array | undefined;
  /** Our index for the handshake in flight; undefined when none is registered. */
  localIndex: number | undefined;
  remoteIndex = 0;
  /** Greatest TAI64N timestamp accepted from this peer. */
  lastTimestamp: Uint8Array = new Uint8Array(tai64nLength);
  lastInitiationConsumedAt: number | undefined;
  lastSentHandshakeAt: number | undefined;
  /** The initiation in flight as sent (macs included), for an identical retransmission. */
  lastInitiation: Uint8Array | undefined;
  readonly remoteStatic: Uint8Array;
  presharedKey: Uint8Array;
  /** DH(our static, their static); undefined when their key is low-order (no handshake possible). */
  readonly precomputedStaticStatic: Uint8Array | undefined;

  constructor(identity: StaticIdentity, remoteStatic: Uint8Array, presharedKey?: Uint8Array) {
    this.remoteStatic = Uint8Array.from(remoteStatic);
    this.presharedKey = presharedKey ? Uint8Array.from(presharedKey) : new Uint8Array(32);
    this.precomputedStaticStatic = sharedSecret(identity.prepared ?? identity.privateKey, remoteStatic);
  }

  /** Forgets the handshake in flight (not the replay and flood memory). */
  clear(): void {
    this.hash.fill(0);
    this.chainKey.fill(0);
    // The ephemeral lives in an OpenSSL key object, freed when collected; dropping it is all we can do.
    this.localEphemeral = undefined;
    this.remoteEphemeral = undefined;
    this.lastInitiation = undefined;
    this.stage = 'zeroed';
  }
}

/** Sealed with the all-zero nonce: every handshake key is used exactly once. */
function sealOnce(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  return seal(key, 0, plaintext, aad);
}

function openOnce(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  return open(key, 0, sealed, aad);
}

/**
 * Builds an initiation (mac fields zero) and moves `hs` to initiation_created. Undefined when the
 * peer's public key is unusable. `timestamp` is TAI64N, `ephemeralPrivate` a clamped X25519 key.
 */
export function createInitiation(
  identity: StaticIdentity,
  hs: HandshakeState,
  ephemeralPrivate: Uint8Array,
  timestamp: Uint8Array,
  senderIndex: number,
): Uint8Array | undefined {
  if (hs.precomputedStaticStatic === undefined) return undefined;
  const eph = preparePrivateKey(ephemeralPrivate);
  const ephemeral = eph.publicKey;
  const es = sharedSecret(eph, hs.remoteStatic);
  if (es === undefined) return undefined;
  let h = hash(initialHash, hs.remoteStatic);
  let ck = kdf1(initialChainKey, ephemeral);
  h = hash(h, ephemeral);
  let key: Uint8Array;
  [ck, key] = kdf2(ck, es);
  const encStatic = sealOnce(key, identity.publicKey, h);
  h = hash(h, encStatic);
  [ck, key] = kdf2(ck, hs.precomputedStaticStatic);
  const encTimestamp = sealOnce(key, timestamp, h);
  h = hash(h, encTimestamp);
  hs.clear();
  hs.hash = h;
  hs.chainKey = ck;
  hs.localEphemeral = eph;
  hs.localIndex = senderIndex;
  hs.stage = 'initiation_created';
  return encodeInitiation({ sender: senderIndex, ephemeral, static: encStatic, timestamp: encTimestamp });
}

export type ConsumeInitiationResult =
  | { ok: true; remoteStatic: Uint8Array; timestamp: Uint8Array }
  | { ok: false; reason: HandshakeFailure; crossed?: HandshakeState };

/**
 * Authenticates an initiation addressed to `identity`. `findPeer` maps the decrypted static key to that
 * peer's handshake state (undefined: not a configured peer). On success the peer's state is
 * initiation_consumed; on failure nothing changed.
 */
export function consumeInitiation(
  identity: StaticIdentity,
  msg: InitiationMessage,
  findPeer: (publicKey: Uint8Array) => HandshakeState | undefined,
  opts: ConsumeInitiationOptions,
): ConsumeInitiationResult {
  const { now } = opts;
  const fail = (reason: HandshakeFailure): ConsumeInitiationResult => ({ ok: false, reason });
  let h = hash(initialHash, identity.publicKey);
  h = hash(h, msg.ephemeral);
  let ck = kdf1(initialChainKey, msg.ephemeral);
  const se = sharedSecret(identity.prepared ?? identity.privateKey, msg.ephemeral);
  if (se === undefined) return fail('handshake_failed');
  let key: Uint8Array;
  [ck, key] = kdf2(ck, se);
  const peerStatic = openOnce(key, msg.static, h);
  if (peerStatic === undefined) return fail('handshake_failed');
  h = hash(h, msg.static);
  const hs = findPeer(peerStatic);
  if (hs === undefined || hs.precomputedStaticStatic === undefined) return fail('handshake_failed');
  [ck, key] = kdf2(ck, hs.precomputedStaticStatic);
  const timestamp = openOnce(key, msg.timestamp, h);
  if (timestamp === undefined) return fail('handshake_failed');
  h = hash(h, msg.timestamp);
  if (compareTai64n(timestamp, hs.lastTimestamp) <= 0) return fail('replayed_handshake');
  if (hs.lastInitiationConsumedAt !== undefined && now - hs.lastInitiationConsumedAt <= opts.initiationRateMs) {
    return fail('rate_limited');
  }
  if (yieldsToOwnInitiation(identity, hs, opts)) {
    // Authenticated and fresh: remember its timestamp, so replays of it cannot trigger the retransmission
    // the caller makes of our own initiation (see yieldsToOwnInitiation).
    hs.lastTimestamp = Uint8Array.from(timestamp);
    return { ok: false, reason: 'handshake_crossed', crossed: hs };
  }
  hs.clear();
  hs.hash = h;
  hs.chainKey = ck;
  hs.remoteIndex = msg.sender;
  hs.remoteEphemeral = Uint8Array.from(msg.ephemeral);
  hs.lastTimestamp = Uint8Array.from(timestamp);
  hs.lastInitiationConsumedAt = now;
  hs.stage = 'initiation_consumed';
  return { ok: true, remoteStatic: hs.remoteStatic, timestamp: hs.lastTimestamp };
}

/**
 * Both sides initiated at once. wireguard-go answers the peer's initiation, which discards its own; when
 * both do that, both responses are dropped and the pair waits for a retransmission (≥ rekeyTimeout,
 * and the race can repeat). We break the tie instead: while our initiation is in flight, the side with
 * the lower public key ignores the peer's initiation and waits for the response to its own; the higher
 * side answers as usual. Against wireguard-go this is just a lost initiation: it still answers ours.
 * Checked only after authentication, so forged input cannot suppress a handshake. Our initiation may
 * never have reached the peer (lost, or the peer did not know our key yet: it had just restarted, R38),
 * so the caller retransmits it unchanged: a peer that has it refuses the copy as a replay, one that
 * does not answers it now instead of after our retry one rekeyTimeout later.
 */
function yieldsToOwnInitiation(identity: StaticIdentity, hs: HandshakeState, opts: ConsumeInitiationOptions): boolean {
  return (
    hs.stage === 'initiation_created' &&
    hs.lastSentHandshakeAt !== undefined &&
    opts.now - hs.lastSentHandshakeAt < opts.rekeyTimeoutMs &&
    Buffer.compare(identity.publicKey, hs.remoteStatic) < 0
  );
}

/** Builds the response (mac fields zero) to a consumed initiation; moves `hs` to response_created. */
export function createResponse(hs: HandshakeState, ephemeralPrivate: Uint8Array, senderIndex: number) {
  if (hs.stage !== 'initiation_consumed' || hs.remoteEphemeral === undefined) return undefined;
  const eph = preparePrivateKey(ephemeralPrivate);
  const ephemeral = eph.publicKey;
  const ee = sharedSecret(eph, hs.remoteEphemeral);
  const es = sharedSecret(eph, hs.remoteStatic);
  if (ee === undefined || es === undefined) return undefined;
  let h = hash(hs.hash, ephemeral);
  let ck = kdf1(hs.chainKey, ephemeral);
  ck = kdf1(ck, ee);
  ck = kdf1(ck, es);
  const [ck2, tau, key] = kdf3(ck, hs.presharedKey);
  h = hash(h, tau);
  const encEmpty = sealOnce(key, empty, h);
  h = hash(h, encEmpty);
  hs.hash = h;
  hs.chainKey = ck2;
  hs.localEphemeral = eph;
  hs.localIndex = senderIndex;
  hs.stage = 'response_created';
  return encodeResponse({ sender: senderIndex, receiver: hs.remoteIndex, ephemeral, empty: encEmpty });
}

/** Authenticates a response to our initiation; on success `hs` is response_consumed, else unchanged. */
export function consumeResponse(
  identity: StaticIdentity,
  hs: HandshakeState,
  msg: ResponseMessage,
): { ok: true } | { ok: false; reason: HandshakeFailure } {
  if (hs.stage !== 'initiation_created' || hs.localEphemeral === undefined) {
    return { ok: false, reason: 'stale_handshake' };
  }
  const ee = sharedSecret(hs.localEphemeral, msg.ephemeral);
  const se = sharedSecret(identity.prepared ?? identity.privateKey, msg.ephemeral);
  if (ee === undefined || se === undefined) return { ok: false, reason: 'handshake_failed' };
  let h = hash(hs.hash, msg.ephemeral);
  let ck = kdf1(hs.chainKey, msg.ephemeral);
  ck = kdf1(ck, ee);
  ck = kdf1(ck, se);
  const [ck2, tau, key] = kdf3(ck, hs.presharedKey);
  h = hash(h, tau);
  if (openOnce(key, msg.empty, h) === undefined) return { ok: false, reason: 'handshake_failed' };
  h = hash(h, msg.empty);
  hs.hash = h;
  hs.chainKey = ck2;
  hs.remoteIndex = msg.sender;
  hs.stage = 'response_consumed';
  return { ok: true };
}

export interface SessionKeys {
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
  readonly isInitiator: boolean;
  readonly localIndex: number;
  readonly remoteIndex: number;
}

/** Derives the transport keys from a finished handshake and zeroes the handshake secrets. */
export function deriveSessionKeys(hs: HandshakeState): SessionKeys | undefined {
  if (hs.localIndex === undefined) return undefined;
  let isInitiator: boolean;
  if (hs.stage === 'response_consumed') isInitiator = true;
  else if (hs.stage === 'response_created') isInitiator = false;
  else return undefined;
  const [t0, t1] = kdf2(hs.chainKey, empty);
  const keys = {
    sendKey: isInitiator ? t0 : t1,
    receiveKey: isInitiator ? t1 : t0,
    isInitiator,
    localIndex: hs.localIndex,
    remoteIndex: hs.remoteIndex,
  };
  hs.clear();
  hs.localIndex = undefined;
  return keys;
}
