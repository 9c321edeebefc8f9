// Two WgDevices in memory: handshakes in both directions, simultaneous initiation, PSK on/off, ending
// in data exchange; silence towards unauthenticated or unconfigured senders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Secret } from '../../src/base/secret.js';
import { encodeKey, publicKeyOf } from '../../src/crypto/keys.js';
import { WgDevice } from '../../src/noise/device.js';
import { keyFromSeed, ipv4Packet, makePair, ofType, seededRandom, sends, Wire, type Side } from '../helpers/wg-pair.js';

const ab = ipv4Packet('198.19.0.1', '198.19.0.2', Uint8Array.from([1, 2, 3]));
const ba = ipv4Packet('198.19.0.2', '198.19.0.1', Uint8Array.from([4, 5, 6, 7]));

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function delivered(w: Wire, s: Side): string[] {
  return ofType(w.log.get(s)!, 'deliver').map((d) => hex(d.packet));
}

function exchange(w: Wire): void {
  const { a, b } = w;
  w.take(a);
  w.take(b);
  w.send(a, ab);
  w.send(b, ba);
  assert.deepEqual(delivered(w, b), [hex(ab)]);
  assert.deepEqual(delivered(w, a), [hex(ba)]);
  // With a session up, data is one transport message each way and nothing else.
  for (const s of [a, b])
    assert.deepEqual(
      sends(w.log.get(s)!).map((x) => x.message),
      ['transport'],
    );
}

for (const psk of [undefined, new Uint8Array(32).fill(7)]) {
  const label = psk ? 'with PSK' : 'without PSK';

  test(`A initiates, B responds, data flows both ways (${label})`, () => {
    const { a, b, clock } = makePair({ psk });
    const w = new Wire(a, b, clock);
    w.send(a, ab);
    const la = w.take(a);
    const lb = w.take(b);
    assert.deepEqual(
      sends(la).map((x) => x.message),
      ['initiation', 'transport'],
    );
    assert.deepEqual(ofType(la, 'handshake'), [{ type: 'handshake', peer: b.key, role: 'initiator' }]);
    assert.deepEqual(ofType(lb, 'handshake'), [{ type: 'handshake', peer: a.key, role: 'responder' }]);
    assert.deepEqual(
      sends(lb).map((x) => x.message),
      ['response'],
    );
    assert.deepEqual(
      ofType(lb, 'deliver').map((d) => hex(d.packet)),
      [hex(ab)],
    );
    assert.equal(ofType(la, 'keypair').length, 1);
    assert.equal(ofType(lb, 'keypair_current').length, 1);
    exchange(w);
    assert.equal(a.dev.peerStatus(b.key)?.txPackets, 2);
    assert.equal(b.dev.peerStatus(a.key)?.rxPackets, 2);
  });

  test(`B initiates towards A (${label})`, () => {
    const { a, b, clock } = makePair({ psk });
    const w = new Wire(a, b, clock);
    w.send(b, ba);
    assert.deepEqual(delivered(w, a), [hex(ba)]);
    assert.equal(ofType(w.log.get(b)!, 'handshake')[0]?.role, 'initiator');
    assert.equal(ofType(w.log.get(a)!, 'handshake')[0]?.role, 'responder');
    exchange(w);
  });

  test(`simultaneous initiation converges to one working session (${label})`, () => {
    const { a, b, clock } = makePair({ psk });
    const w = new Wire(a, b, clock);
    // Both initiations are on the wire before either arrives.
    w.push(a, a.dev.send(b.key, ab, clock.now));
    w.push(b, b.dev.send(a.key, ba, clock.now));
    assert.equal(w.inflight.length, 2);
    w.flush();
    w.run(8000);
    assert.deepEqual(delivered(w, b), [hex(ab)]);
    assert.deepEqual(delivered(w, a), [hex(ba)]);
    w.run(1000);
    exchange(w);
    for (const s of [a, b]) assert.equal(s.dev.peerStatus(w.other(s).key)?.hasSession, true);
  });
}

test('crossed initiations when ours was lost (R38): the side that yields retransmits it, so the pair meets at once', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  // The side with the lower key yields to its own initiation in flight.
  const [low, high] = Buffer.compare(Buffer.from(a.key, 'base64'), Buffer.from(b.key, 'base64')) < 0 ? [a, b] : [b, a];
  const lowPacket = low === a ? ab : ba;
  // low's initiation is lost (the peer had just restarted and did not know low's key yet).
  let lost: Uint8Array | undefined;
  w.filter = (d) => d.src === low && lost === undefined && (lost = d.data) !== undefined;
  w.send(low, lowPacket);
  assert.ok(lost !== undefined && lost[0] === 1, 'the initiation was dropped on the wire');
  w.filter = undefined;
  clock.advance(50);
  // high starts its own handshake (it just learned low again): low refuses it as crossed and sends
  // its lost initiation again, byte for byte; high answers that at once.
  w.take(low);
  w.push(high, high.dev.send(low.key, low === a ? ba : ab, clock.now));
  w.flush();
  const lowActs = w.take(low);
  assert.ok(ofType(lowActs, 'drop').some((d) => d.reason === 'handshake_crossed'));
  const again = sends(lowActs).find((x) => x.message === 'initiation');
  assert.ok(again !== undefined && hex(again.data) === hex(lost!), 'the same initiation again');
  assert.equal(low.dev.peerStatus(high.key)?.hasSession, true, 'handshake done without waiting for a retry');
  assert.deepEqual(delivered(w, high), [hex(lowPacket)]);
  // A replay of high's initiation does not make low retransmit again (its timestamp is not newer).
  const highInit = sends(w.log.get(high)!).find((x) => x.message === 'initiation')!;
  const replay = low.dev.receive(highInit.data, high.endpoint, clock.now + 100);
  assert.deepEqual(sends(replay), []);
  assert.deepEqual(
    ofType(replay, 'drop').map((d) => d.reason),
    ['replayed_handshake'],
  );
});

test('a PSK mismatch fails the handshake silently at the initiator', () => {
  const { a, b, clock } = makePair({ psk: new Uint8Array(32).fill(1) });
  b.dev.updatePeer(a.key, { presharedKey: new Secret(new Uint8Array(32).fill(2)) });
  const w = new Wire(a, b, clock);
  w.send(a, ab);
  // B accepts the initiation (the PSK enters only at the response) and answers; A cannot open it.
  assert.deepEqual(
    ofType(w.log.get(a)!, 'drop').map((d) => d.reason),
    ['handshake_failed'],
  );
  assert.equal(ofType(w.log.get(a)!, 'handshake').length, 0);
  assert.equal(delivered(w, b).length, 0);
});

test('an initiation from a key that is not a configured peer is dropped with no reply', () => {
  const { a, clock } = makePair();
  const strangerKey = keyFromSeed('stranger');
  const stranger = new WgDevice({
    privateKey: new Secret(strangerKey),
    random: seededRandom('stranger'),
    wallClockMs: () => clock.wall,
  });
  stranger.addPeer({ publicKey: a.dev.publicKey, endpoint: a.endpoint });
  const init = sends(stranger.send(encodeKey(a.dev.publicKey), ab, clock.now))[0]!;
  const out = a.dev.receive(init.data, { host: '198.18.0.9', port: 9 }, clock.now);
  assert.deepEqual(out, [{ type: 'drop', reason: 'handshake_failed' }]);
  assert.equal(encodeKey(publicKeyOf(strangerKey)).length, 44);
});

test('a replayed initiation is dropped and does not disturb the session', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  const init = sends(w.push(a, a.dev.send(b.key, ab, clock.now)))[0]!;
  w.flush();
  clock.advance(1000);
  const out = b.dev.receive(init.data, a.endpoint, clock.now);
  assert.deepEqual(out, [{ type: 'drop', reason: 'replayed_handshake' }]);
  exchange(w);
});

test('initiations faster than handshakeInitationRate are dropped (flood protection)', () => {
  const { a, b, clock } = makePair({ limits: { rekeyTimeoutMs: 10, rekeyTimeoutJitterMaxMs: 0 } });
  const first = sends(a.dev.send(b.key, ab, clock.now))[0]!;
  assert.equal(
    b.dev.receive(first.data, a.endpoint, clock.now).some((x) => x.type === 'send'),
    true,
  );
  clock.advance(20);
  const second = sends(a.dev.tick(clock.now)).find((x) => x.message === 'initiation');
  assert.ok(second, 'retransmission after the lowered rekeyTimeout');
  assert.deepEqual(b.dev.receive(second.data, a.endpoint, clock.now), [{ type: 'drop', reason: 'rate_limited' }]);
});

test('endpoint roaming: an authenticated packet from a new address updates the endpoint', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  w.send(a, ab);
  const msg = sends(a.dev.send(b.key, ab, clock.now))[0]!;
  const moved = { host: '198.18.7.7', port: 4242 };
  const out = b.dev.receive(msg.data, moved, clock.now);
  assert.deepEqual(ofType(out, 'endpoint'), [{ type: 'endpoint', peer: a.key, endpoint: moved }]);
  assert.deepEqual(b.dev.peerStatus(a.key)?.endpoint, moved);
});

test('send to an unknown peer is a no_route drop', () => {
  const { a, clock } = makePair();
  assert.deepEqual(a.dev.send('nobody', ab, clock.now), [{ type: 'drop', reason: 'no_route' }]);
});
