// Self-signed node records (membership/record-auth.ts, crypto/sign.ts, the checks in membership/core.ts):
// every record is signed by its owner's key, derived from its WireGuard key; gossip can carry a record but
// not change it; a new key for a live name needs the old key's statement or the holder's death by this
// node's own verdict; epochs far in the future are refused; conflict warnings are rate limited. Pure: the
// core is driven by hand with real Ed25519 keys and a fake wall clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../src/base/log.js';
import { records as limits } from '../../src/base/constants.js';
import { deriveSigningKey, verifyingKey } from '../../src/crypto/sign.js';
import { encodeKey, publicKeyOf } from '../../src/crypto/keys.js';
import { Metrics } from '../../src/metrics/registry.js';
import { MembershipCore, type Action } from '../../src/membership/core.js';
import { parseGossipRequest, type Request, type Update } from '../../src/membership/messages.js';
import type { NodeRecord } from '../../src/membership/record.js';
import { canonicalJson, signedPayload, type RecordAuth } from '../../src/membership/record-auth.js';
import { seededRng } from '../../src/membership/rng.js';
import { deriveTiming } from '../../src/membership/timing.js';
import { keyedAuth, testPrivateKey } from '../helpers/record-keys.js';

const wall0 = 1_765_000_000_000;
const timing = deriveTiming({
  probeIntervalMs: 1000,
  failureTimeoutMs: 10_000,
  gossipFanout: 3,
  requestTimeoutMs: 2000,
});

function unsigned(id: string, seed: number, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    epoch: wall0,
    version: 0,
    publicKey: encodeKey(publicKeyOf(testPrivateKey(seed))),
    addresses: [`198.19.0.${seed}/16`],
    endpoints: [`198.18.0.${seed}:51820`],
    apiUrl: `https://198.18.0.${seed}:4567`,
    methods: ['wireguard'],
    routes: [],
    ...over,
  };
}

const signed = (auth: RecordAuth, r: NodeRecord): NodeRecord => auth.sign(r);

interface Harness {
  core: MembershipCore;
  metrics: Metrics;
  warnings: string[];
  wall: { now: number };
  refused(reason: string): Promise<number>;
}

function harness(): Harness {
  const metrics = new Metrics();
  const warnings: string[] = [];
  const wall = { now: wall0 };
  const log = {
    warn: (_o: unknown, msg: string) => warnings.push(msg),
    info: () => undefined,
    debug: () => undefined,
  } as unknown as Logger;
  const core = new MembershipCore(unsigned('me', 1), timing, seededRng(7), 0, {
    log,
    metrics,
    auth: keyedAuth(1),
    wallNow: () => wall.now,
  });
  return {
    core,
    metrics,
    warnings,
    wall,
    refused: (reason) => metrics.value('membership_records_refused_total', { reason }),
  };
}

const gossip = (from: string, updates: Update[]): Request => ({ type: 'gossip', from, updates });
const alive = (r: NodeRecord): Update => ({ t: 'alive', r });
const sends = (actions: Action[]) => actions.filter((a): a is Extract<Action, { kind: 'send' }> => a.kind === 'send');

/** Every update about `id` the core sends (piggybacked or gossiped) while ticking for `ms`. */
function relayedAbout(core: MembershipCore, id: string, from: number, ms: number): NodeRecord[] {
  const out: NodeRecord[] = [];
  for (let now = from; now <= from + ms; now += 100)
    for (const a of sends(core.tick(now))) {
      const msg = a.msg;
      if ('updates' in msg) for (const u of msg.updates) if (u.t === 'alive' && u.r.id === id) out.push(u.r);
      // Every member is alive and answers probes and gossip (the real b among them).
      const to = typeof a.to === 'string' ? a.to : a.to.id;
      if (msg.type === 'ping' || msg.type === 'gossip')
        core.handleReply(now, a.token, { type: 'ack', from: to, updates: [] });
      else core.handleFailure(now, a.token);
    }
  return out;
}

test('crypto: the signing key derives deterministically from the WireGuard key and differs per key', () => {
  const a = deriveSigningKey(testPrivateKey(1));
  assert.deepEqual(a.publicKey, deriveSigningKey(testPrivateKey(1)).publicKey);
  assert.notDeepEqual(a.publicKey, deriveSigningKey(testPrivateKey(2)).publicKey);
  assert.notDeepEqual(a.publicKey, publicKeyOf(testPrivateKey(1)), 'not the X25519 public key');
  assert.ok(verifyingKey(a.publicKey));
  assert.equal(verifyingKey(new Uint8Array(32)), undefined, 'small-order key refused');
  assert.equal(verifyingKey(Uint8Array.of(1, ...new Uint8Array(31))), undefined, 'identity point refused');
  assert.equal(verifyingKey(new Uint8Array(31)), undefined, 'wrong length refused');
});

test('the signature covers every field but sig, canonically (any field added later is covered too)', () => {
  const auth = keyedAuth(2);
  const r = signed(auth, unsigned('b', 2));
  assert.equal(auth.verify(r), 'ok');
  const reordered = Object.fromEntries(Object.entries(r).reverse()) as unknown as NodeRecord;
  assert.equal(auth.verify(reordered), 'ok', 'key order does not matter');
  assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
  assert.ok(signedPayload(r).startsWith('tunmesh record v1\n'));
  for (const tampered of [
    { ...r, endpoints: ['198.18.0.66:51820'] },
    { ...r, apiUrl: 'https://198.18.0.66:4567' },
    { ...r, publicKey: encodeKey(publicKeyOf(testPrivateKey(66))) },
    { ...r, version: r.version + 1 },
    { ...r, epoch: r.epoch + 1 },
    { ...r, routes: ['198.19.7.0/24'] },
    { ...r, groups: ['239.1.1.1'] },
  ])
    assert.equal(auth.verify(tampered), 'bad_signature');
  assert.equal(keyedAuth(3).verify(r), 'ok', 'any node verifies it');
});

test('a forged record for another id (signed by another key) is refused, counted and never relayed', async () => {
  const h = harness();
  const bAuth = keyedAuth(2);
  const real = signed(bAuth, unsigned('b', 2));
  h.core.handleRequest(0, 1, gossip('b', [alive(real)]), 'b');
  assert.equal(h.core.table.get('b')?.record?.sigKey, bAuth.sigKey);
  // The review's attack: b's record with the attacker's key and endpoint and an epoch nobody outbids.
  const attacker = keyedAuth(9);
  const forged = signed(attacker, {
    ...unsigned('b', 2),
    epoch: wall0 + 60_000,
    version: 7,
    publicKey: encodeKey(publicKeyOf(testPrivateKey(9))),
    endpoints: ['198.18.0.9:51820'],
    apiUrl: 'https://198.18.0.9:4567',
  });
  const before = await h.refused('key_change');
  const check = sends(h.core.handleRequest(10, 2, gossip('c', [alive(forged)]), 'c'));
  assert.equal(h.core.table.get('b')?.record?.publicKey, real.publicKey, 'b keeps its key');
  // The real b answers the check at its URL for its epoch: the forged record is dropped for good.
  for (const a of check) h.core.handleReply(11, a.token, { type: 'ack', from: 'b', updates: [] });
  assert.deepEqual(h.core.table.get('b')?.record?.endpoints, real.endpoints);
  assert.equal((await h.refused('key_change')) - before, 1);
  // With b's own sigKey but the attacker's signature: a bad signature.
  const wrongSig = { ...forged, sigKey: bAuth.sigKey };
  h.core.handleRequest(20, 3, gossip('c', [alive(wrongSig)]), 'c');
  assert.equal(await h.refused('bad_signature'), 1);
  assert.equal(h.core.table.get('b')?.record?.publicKey, real.publicKey);
  const relayed = relayedAbout(h.core, 'b', 100, 5000);
  assert.ok(
    relayed.every((r) => r.publicKey === real.publicKey && r.sig === real.sig),
    'no forged record is passed on',
  );
  // The epoch check: 2^53−1 (the review's) and 11 minutes ahead are refused; 9 minutes ahead is not.
  const far = signed(bAuth, unsigned('b', 2, { epoch: Number.MAX_SAFE_INTEGER }));
  const ahead = signed(bAuth, unsigned('b', 2, { epoch: wall0 + limits.maxFutureEpochMs + 60_000 }));
  h.core.handleRequest(6000, 4, gossip('c', [alive(far), alive(ahead)]), 'c');
  assert.equal(await h.refused('future_epoch'), 2);
  assert.equal(h.core.table.get('b')?.epoch, wall0);
  const soon = signed(bAuth, unsigned('b', 2, { epoch: wall0 + limits.maxFutureEpochMs - 60_000 }));
  h.core.handleRequest(6100, 5, gossip('c', [alive(soon)]), 'c');
  assert.equal(h.core.table.get('b')?.epoch, soon.epoch, 'a restart within the window is taken');
  // Deaths and suspicions with a far epoch are refused too: a tombstone nobody could outbid.
  h.core.handleRequest(
    6200,
    6,
    gossip('c', [{ t: 'dead', id: 'b', epoch: Number.MAX_SAFE_INTEGER, version: 0, by: 'c', reason: 'failed' }]),
    'c',
  );
  assert.equal(h.core.table.get('b')?.state, 'alive');
  assert.equal(await h.refused('future_epoch'), 3);
});

test('joins and join replies are verified too', async () => {
  const h = harness();
  const forged = signed(keyedAuth(9), { ...unsigned('x', 5), sigKey: undefined });
  const wrong = { ...forged, sigKey: keyedAuth(5).sigKey };
  const out = h.core.handleRequest(0, 1, { type: 'join', record: wrong }, 'x');
  assert.ok(
    out.some((a) => a.kind === 'reply' && a.reply.type === 'join-reply'),
    'the joiner still gets an answer',
  );
  assert.equal(h.core.table.get('x'), undefined);
  h.core.mergeJoinReply(1, {
    type: 'join-reply',
    self: signed(keyedAuth(3), unsigned('seed', 3)),
    members: [wrong, signed(keyedAuth(4), unsigned('ok', 4))],
  });
  assert.equal(h.core.table.get('x'), undefined);
  assert.ok(h.core.table.get('seed') && h.core.table.get('ok'));
  assert.equal(await h.refused('bad_signature'), 2);
});

test('malformed sig or sigKey (wrong length, bad base64, missing) are refused with a counted reason, never thrown', async () => {
  const h = harness();
  const good = signed(keyedAuth(2), unsigned('b', 2));
  const bad: NodeRecord[] = [
    { ...good, sig: good.sig!.slice(4) },
    { ...good, sig: `${good.sig!.slice(0, -3)}!==` },
    { ...good, sigKey: good.sigKey!.slice(4) },
    { ...good, sigKey: '%%%%' },
    { ...good, sigKey: encodeKey(new Uint8Array(32)) },
    { ...good, sig: undefined },
    { ...good, sigKey: undefined },
    { ...good, sig: '' },
  ];
  for (const r of bad) assert.doesNotThrow(() => h.core.handleRequest(0, 1, gossip('c', [alive(r)]), 'c'));
  assert.equal(await h.refused('malformed'), bad.length);
  assert.equal(h.core.table.get('b'), undefined);
  // The wire schema bounds sizes and requires both fields.
  const wire = (r: unknown) => parseGossipRequest({ type: 'gossip', from: 'c', updates: [{ t: 'alive', r }] });
  assert.ok(wire(good));
  assert.equal(wire({ ...good, sig: undefined }), undefined);
  assert.equal(wire({ ...good, sigKey: 'A'.repeat(65) }), undefined);
  assert.equal(wire({ ...good, sig: 'A'.repeat(129) }), undefined);
  assert.equal(wire({ ...good, prev: [] }), undefined);
  assert.equal(wire({ ...good, prev: Array(5).fill({ sigKey: 'a', sig: 'b' }) }), undefined);
  assert.equal(wire({ ...good, prev: [{ sigKey: 'a', sig: 'b', x: 1 }] }), undefined);
});

test('key continuity: a new key for a live id is refused without prev and accepted with a valid prev (chain)', async () => {
  const h = harness();
  const k1 = keyedAuth(2);
  const k2 = keyedAuth(12);
  const k3 = keyedAuth(22);
  const r1 = signed(k1, unsigned('b', 2));
  h.core.handleRequest(0, 1, gossip('b', [alive(r1)]), 'b');
  const bare = signed(k2, unsigned('b', 12, { version: 1 }));
  const out = h.core.handleRequest(1, 2, gossip('c', [alive(bare)]), 'c');
  assert.equal(h.core.table.get('b')?.record?.sigKey, k1.sigKey, 'refused without prev');
  assert.equal(await h.refused('key_change'), 1);
  // It asks b's URL which instance answers there, naming the epoch it holds.
  const check = sends(out).find((a) => a.msg.type === 'ping' && a.msg.epoch === wall0);
  assert.ok(check, 'a ping naming the held epoch goes to the held record');
  assert.equal((check.to as NodeRecord).apiUrl, r1.apiUrl);
  h.core.handleReply(2, check.token, { type: 'ack', from: 'b', updates: [] });
  // A prev by another key than the held one does not count.
  const byStranger = signed(k2, unsigned('b', 12, { version: 2, prev: [keyedAuth(9).vouch('b', k2.sigKey, wall0)] }));
  h.core.handleRequest(3, 3, gossip('c', [alive(byStranger)]), 'c');
  assert.equal(h.core.table.get('b')?.record?.sigKey, k1.sigKey);
  // A prev for another epoch (or id) does not count.
  const otherEpoch = signed(k2, unsigned('b', 12, { version: 3, prev: [k1.vouch('b', k2.sigKey, wall0 - 1)] }));
  h.core.handleRequest(4, 4, gossip('c', [alive(otherEpoch)]), 'c');
  assert.equal(h.core.table.get('b')?.record?.sigKey, k1.sigKey);
  // Two rotations in a row: a member that missed the first follows the chain k1 → k2 → k3.
  const chained = signed(
    k3,
    unsigned('b', 22, { version: 4, prev: [k2.vouch('b', k3.sigKey, wall0), k1.vouch('b', k2.sigKey, wall0)] }),
  );
  h.core.handleRequest(5, 5, gossip('c', [alive(chained)]), 'c');
  assert.equal(h.core.table.get('b')?.record?.sigKey, k3.sigKey, 'accepted with a valid chain');
  assert.equal(h.core.table.get('b')?.record?.publicKey, chained.publicKey);
  assert.equal(await h.refused('key_change'), 3);
});

test('key continuity: the live rotation of the core produces a record a member holding the old key accepts', () => {
  const k1 = keyedAuth(2);
  const b = new MembershipCore(unsigned('b', 2), timing, seededRng(3), 0, {
    log: silentLog(),
    auth: k1,
    wallNow: () => wall0,
  });
  const h = harness();
  h.core.handleRequest(0, 1, gossip('b', [alive(b.self)]), 'b');
  const k2 = keyedAuth(12);
  b.rotateIdentity(k2, { publicKey: encodeKey(publicKeyOf(testPrivateKey(12))) });
  assert.equal(b.self.sigKey, k2.sigKey);
  assert.equal(b.self.prev?.length, 1);
  h.core.handleRequest(1, 2, gossip('b', [alive(b.self)]), 'b');
  assert.equal(h.core.table.get('b')?.record?.sigKey, k2.sigKey);
  // Later versions keep the statement (a member that missed the rotation still needs it).
  b.updateSelf({ routes: ['198.19.9.0/24'] });
  assert.equal(b.self.prev?.length, 1);
  assert.equal(k1.verify(b.self), 'ok');
});

test('key continuity: a new key is accepted once the holder is dead by our own verdict, not by hearsay alone', async () => {
  const h = harness();
  const k1 = keyedAuth(2);
  h.core.handleRequest(0, 1, gossip('b', [alive(signed(k1, unsigned('b', 2)))]), 'b');
  // A restart with a new key (kill -9, new key, same name): epoch later, another key, same URL.
  const restarted = signed(
    keyedAuth(12),
    unsigned('b', 12, { epoch: wall0 + 5000, apiUrl: 'https://198.18.0.2:4567' }),
  );
  let out = h.core.handleRequest(100, 2, gossip('b', [alive(restarted)]), 'b');
  assert.equal(h.core.table.get('b')?.epoch, wall0, 'refused while the old instance is alive');
  const check = sends(out).find((a) => a.msg.type === 'ping' && a.msg.epoch === wall0)!;
  // The new instance answers at the URL, for another epoch: nack. The old one is suspected...
  h.core.handleReply(120, check.token, { type: 'nack', from: 'b', updates: [] });
  assert.equal(h.core.table.get('b')?.state, 'suspect');
  // ... and declared dead when the suspicion expires; the waiting record then takes the name.
  let now = 120;
  while (h.core.table.get('b')?.epoch === wall0 && now < 20_000) {
    now += 100;
    for (const a of sends(h.core.tick(now))) h.core.handleFailure(now, a.token);
  }
  assert.equal(h.core.table.get('b')?.epoch, restarted.epoch, `took the new record (after ${now} ms)`);
  assert.notEqual(h.core.table.get('b')?.state, 'dead');
  assert.equal(h.core.table.get('b')?.record?.sigKey, restarted.sigKey);

  // A death only heard of (deaths are not signed) does not unlock the name until our own check fails.
  const h2 = harness();
  h2.core.handleRequest(0, 1, gossip('b', [alive(signed(k1, unsigned('b', 2)))]), 'b');
  h2.core.handleRequest(
    10,
    2,
    gossip('c', [{ t: 'dead', id: 'b', epoch: wall0, version: 0, by: 'c', reason: 'failed' }]),
    'c',
  );
  assert.equal(h2.core.table.get('b')?.state, 'dead');
  const impostor = signed(keyedAuth(9), unsigned('b', 9, { epoch: wall0 + 1000 }));
  out = h2.core.handleRequest(20, 3, gossip('c', [alive(impostor)]), 'c');
  assert.equal(h2.core.table.get('b')?.epoch, wall0, 'refused: only hearsay says the holder died');
  const check2 = sends(out).find((a) => a.msg.type === 'ping' && a.msg.epoch === wall0)!;
  // The real b answers for its epoch: the impostor stays out (b refutes the death on its own).
  h2.core.handleReply(30, check2.token, { type: 'ack', from: 'b', updates: [] });
  h2.core.handleRequest(40, 4, gossip('c', [alive(impostor)]), 'c');
  assert.equal(h2.core.table.get('b')?.record?.sigKey, k1.sigKey);
  // When the check fails (no answer), the death is confirmed and the waiting record is applied.
  // (At most one check per probe period: the record repeated at once sends none.)
  const soon = sends(h2.core.handleRequest(50, 5, gossip('c', [alive(impostor)]), 'c'));
  assert.equal(soon.filter((a) => a.msg.type === 'ping' && a.msg.epoch === wall0).length, 0);
  const again = sends(h2.core.handleRequest(1500, 6, gossip('c', [alive(impostor)]), 'c'));
  const check3 = again.find((a) => a.msg.type === 'ping' && a.msg.epoch === wall0)!;
  h2.core.handleFailure(2000, check3.token);
  assert.equal(h2.core.table.get('b')?.record?.sigKey, impostor.sigKey);
  assert.ok((await h2.refused('key_change')) >= 2);
});

test('a ping naming another epoch than ours is answered nack (a restarted node does not keep its predecessor alive)', () => {
  const h = harness();
  const mine = h.core.handleRequest(0, 1, { type: 'ping', from: 'c', updates: [], epoch: wall0 }, 'c');
  assert.equal(
    mine.find((a) => a.kind === 'reply')?.kind === 'reply' && (mine[0] as { reply: { type: string } }).reply.type,
    'ack',
  );
  const other = h.core.handleRequest(0, 2, { type: 'ping', from: 'c', updates: [], epoch: wall0 - 1 }, 'c');
  const reply = other.find((a) => a.kind === 'reply');
  assert.equal(reply?.kind === 'reply' && reply.reply.type, 'nack');
});

test('records about ourselves: another key is an impostor (refused); warnings are rate limited with a count', async () => {
  const h = harness();
  const me = h.core.self;
  assert.equal(keyedAuth(5).verify(me), 'ok', 'our own record is signed');
  const impostor = signed(keyedAuth(9), unsigned('me', 9, { epoch: wall0 + 1000 }));
  for (let i = 0; i < 100; i++)
    h.core.handleRequest(i * 100, i, gossip('c', [alive({ ...impostor, version: i })]), 'c');
  assert.equal(h.warnings.length, 1, `one warning in 10 s, not 100: ${h.warnings.join(' | ')}`);
  assert.match(h.warnings[0]!, /did not sign/);
  assert.equal(await h.refused('key_change'), 100);
  h.core.handleRequest(limits.conflictWarnIntervalMs + 1000, 200, gossip('c', [alive(impostor)]), 'c');
  assert.equal(h.warnings.length, 2);
  assert.match(h.warnings[1]!, /99 more/);
  assert.equal(h.core.self.epoch, wall0, 'nothing believed: our record is unchanged');
  // A newer epoch under OUR key is a real second instance (a copied key): that warning says so.
  const twin = keyedAuth(1).sign({ ...unsigned('me', 1), epoch: wall0 + 2000 });
  h.core.handleRequest(40_000, 300, gossip('c', [alive(twin)]), 'c');
  assert.match(h.warnings.at(-1)!, /another instance named me with a newer epoch and this node's key/);
});

test('a suspicion or death at a version nobody can outbid is refused; one that lands anyway starts a new incarnation', async () => {
  const h = harness();
  const bAuth = keyedAuth(2);
  const real = signed(bAuth, unsigned('b', 2));
  h.core.handleRequest(0, 1, gossip('b', [alive(real)]), 'b');
  // A member declares b dead at b's epoch with version 2^53−1: b could never refute it by a version bump.
  const forgedDeath: Update = {
    t: 'dead',
    id: 'b',
    epoch: real.epoch,
    version: Number.MAX_SAFE_INTEGER,
    by: 'c',
    reason: 'failed',
  };
  h.core.handleRequest(10, 2, gossip('c', [forgedDeath]), 'c');
  assert.equal(h.core.table.get('b')?.state, 'alive', 'the implausible death is not applied');
  assert.equal(await h.refused('implausible_version'), 1);
  // A plausible one (the declarer saw a slightly newer version) still counts.
  h.core.handleRequest(20, 3, gossip('c', [{ ...forgedDeath, version: real.version + 3 }]), 'c');
  assert.equal(h.core.table.get('b')?.state, 'dead');
  // About ourselves: such a death reached us (a member that held no record of us took it): we come back
  // as a new incarnation under the same key, signed, instead of staying dead for good.
  const me = h.core.self;
  h.wall.now = wall0 + 5000;
  h.core.handleRequest(30, 4, gossip('c', [{ ...forgedDeath, id: 'me', epoch: me.epoch }]), 'c');
  const next = h.core.self;
  assert.equal(next.epoch, wall0 + 5000);
  assert.equal(next.version, 0);
  assert.equal(next.sigKey, me.sigKey);
  assert.equal(keyedAuth(1).verify(next), 'ok');
});

function silentLog(): Logger {
  return { warn: () => undefined, info: () => undefined, debug: () => undefined } as unknown as Logger;
}
