// Session lifetime with a fake clock and lowered limits: rekey after messages and after time, key
// rotation (old keys still decrypt in-flight data), reject after messages/time, zeroing after 3×reject.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wg } from '../../src/base/constants.js';
import { ipv4Packet, makePair, ofType, sends, Wire } from '../helpers/wg-pair.js';

const p = ipv4Packet('198.19.0.1', '198.19.0.2');
const q = ipv4Packet('198.19.0.2', '198.19.0.1');

test('the initiator rekeys once its send counter passes rekeyAfterMessages; data keeps flowing', () => {
  const { a, b, clock } = makePair({ limits: { rekeyAfterMessages: 5n } });
  const w = new Wire(a, b, clock);
  w.send(a, p);
  w.take(a);
  w.take(b);
  // Initiations are limited to one per rekeyTimeout, whatever asks for them.
  clock.advance(wg.rekeyTimeoutMs);
  const initiationsAt: number[] = [];
  for (let i = 0; i < 12; i++) {
    const acts = w.send(a, p);
    if (sends(acts).some((x) => x.message === 'initiation')) initiationsAt.push(i);
  }
  // Counter 0 went with the handshake; send i uses counter i + 1. After send 4 (counter 5) the next
  // counter, 6, is past the limit (wireguard-go compares the next nonce: nonce > RekeyAfterMessages).
  assert.equal(initiationsAt[0], 4);
  assert.equal(ofType(w.log.get(b)!, 'deliver').length, 12);
  assert.equal(ofType(w.log.get(a)!, 'keypair').length, 1, 'exactly one new session within rekeyTimeout');
  assert.equal(ofType(w.log.get(b)!, 'keypair_current').length, 1);
  const removed = ofType(w.log.get(a)!, 'keypair_removed');
  assert.equal(removed.length, 0, 'the old keypair stays as previous');
});

test('after a rekey, data sealed with the previous keypair and delivered late still decrypts', () => {
  const { a, b, clock } = makePair({ limits: { rekeyAfterMessages: 3n } });
  const w = new Wire(a, b, clock);
  w.send(a, p);
  clock.advance(wg.rekeyTimeoutMs);
  // Hold back one message on the old session.
  const late = sends(a.dev.send(b.key, p, clock.now))[0]!;
  for (let i = 0; i < 6; i++) w.send(a, p);
  assert.equal(ofType(w.log.get(a)!, 'keypair').length, 2, 'a second session was made');
  assert.equal(ofType(b.dev.receive(late.data, a.endpoint, clock.now), 'deliver').length, 1);
});

test('the initiator rekeys after rekeyAfterTime when it sends; the responder does not', () => {
  const { a, b, clock } = makePair({ limits: { rekeyTimeoutJitterMaxMs: 0 } });
  const w = new Wire(a, b, clock);
  w.send(a, p);
  w.send(b, q);
  clock.advance(wg.rekeyAfterTimeMs - 1000);
  assert.ok(!sends(w.send(a, p)).some((x) => x.message === 'initiation'));
  assert.ok(!sends(w.send(b, q)).some((x) => x.message === 'initiation'));
  clock.advance(2000);
  assert.ok(!sends(w.send(b, q)).some((x) => x.message === 'initiation'), 'responder waits');
  assert.ok(
    sends(w.send(a, p)).some((x) => x.message === 'initiation'),
    'initiator rekeys',
  );
  assert.equal(ofType(w.log.get(a)!, 'handshake').length, 2);
});

test('a keypair past rejectAfterMessages is not used: packets are staged and a handshake starts', () => {
  const { a, b, clock } = makePair({ limits: { rejectAfterMessages: 4n, rekeyAfterMessages: 100n } });
  const w = new Wire(a, b, clock);
  w.send(a, p);
  clock.advance(wg.rekeyTimeoutMs);
  w.filter = (d) => d.dst === b; // B hears nothing from now on
  for (let i = 0; i < 3; i++) w.send(a, p);
  const acts = w.send(a, p);
  assert.deepEqual(
    sends(acts).map((x) => x.message),
    ['initiation'],
  );
  assert.equal(a.dev.peerStatus(b.key)?.stagedPackets, 1);
});

test('receiving on a keypair older than rejectAfterTime is refused (expired_keypair)', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  w.send(a, p);
  const msg = sends(a.dev.send(b.key, p, clock.now))[0]!;
  clock.advance(wg.rejectAfterTimeMs + 1);
  assert.deepEqual(b.dev.receive(msg.data, a.endpoint, clock.now), [
    { type: 'drop', reason: 'expired_keypair', peer: a.key },
  ]);
  // Sending on it is refused too: A stages and starts a new handshake.
  assert.deepEqual(
    sends(a.dev.send(b.key, p, clock.now)).map((x) => x.message),
    ['initiation'],
  );
});

test('all keys are zeroed 3×rejectAfterTime after the last session was derived', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  w.send(a, p);
  w.take(a);
  w.filter = () => true; // silence afterwards, so nothing renews the session
  w.run(3 * wg.rejectAfterTimeMs - 2000, 1000);
  assert.equal(ofType(w.log.get(a)!, 'keypair_removed').length, 0);
  assert.equal(a.dev.peerStatus(b.key)?.hasSession, true);
  w.run(3000, 1000);
  assert.equal(ofType(w.log.get(a)!, 'keypair_removed').length, 1);
  assert.equal(a.dev.peerStatus(b.key)?.hasSession, false);
});
