// Timer behaviour with a fake clock: passive keepalive, persistent keepalive, handshake retransmission
// and giving up, new handshake when the peer goes quiet, and the bounded staging queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wg } from '../../src/base/constants.js';
import { maxHandshakeAttempts, resolveLimits } from '../../src/noise/limits.js';
import { ipv4Packet, makePair, ofType, sends, Wire, type Side } from '../helpers/wg-pair.js';

const p = ipv4Packet('198.19.0.1', '198.19.0.2');
const q = ipv4Packet('198.19.0.2', '198.19.0.1');

/** Times (relative to `t0`) at which `s` sent transport messages with no payload (keepalives: 32 bytes). */
function keepaliveTimes(s: Side, stepLog: { t: number; side: Side; size: number }[]): number[] {
  return stepLog.filter((x) => x.side === s && x.size === 32).map((x) => x.t);
}

function runLogged(w: Wire, ms: number, stepMs: number): { t: number; side: Side; size: number }[] {
  const log: { t: number; side: Side; size: number }[] = [];
  const t0 = w.clock.now;
  for (let t = 0; t < ms; t += stepMs) {
    w.clock.advance(stepMs);
    for (const s of [w.a, w.b]) {
      for (const x of sends(w.push(s, s.dev.tick(w.clock.now)))) {
        if (x.message === 'transport') log.push({ t: w.clock.now - t0, side: s, size: x.data.length });
      }
    }
    w.flush();
  }
  return log;
}

test('passive keepalive: a peer that received data but sent nothing answers after keepaliveTimeout', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  w.send(a, p);
  const log = runLogged(w, 30_000, 100);
  // B received the data at t=0 and stays silent otherwise: exactly one keepalive, at keepaliveTimeout.
  assert.deepEqual(keepaliveTimes(b, log), [wg.keepaliveTimeoutMs]);
  assert.deepEqual(keepaliveTimes(a, log), [], 'A received only a keepalive: no data, no answer');
});

test('passive keepalive is not sent when the receiver sent data of its own in time', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  w.send(a, p);
  clock.advance(wg.keepaliveTimeoutMs / 2);
  w.send(b, q);
  const log = runLogged(w, wg.keepaliveTimeoutMs / 2 + 100, 100);
  assert.deepEqual(keepaliveTimes(b, log), []);
});

test('persistent keepalive: sent after every persistentKeepalive interval of silence', () => {
  const { a, b, clock } = makePair({ persistentKeepaliveSec: 25 });
  const w = new Wire(a, b, clock);
  // Switching persistent keepalive on makes the next tick send a keepalive, i.e. start a handshake.
  w.run(100);
  assert.equal(ofType(w.log.get(a)!, 'handshake').length, 1);
  const log = runLogged(w, 80_000, 500);
  const times = keepaliveTimes(a, log);
  assert.deepEqual(
    times,
    [24_900, 49_900, 74_900].map((t) => t + 100),
  );
  assert.equal(ofType(w.log.get(b)!, 'drop').length, 0);
});

test('persistent keepalive can be switched off', () => {
  const { a, b, clock } = makePair({ persistentKeepaliveSec: 25 });
  const w = new Wire(a, b, clock);
  w.run(100);
  a.dev.updatePeer(b.key, { persistentKeepaliveSec: 0 });
  const log = runLogged(w, 80_000, 500);
  assert.deepEqual(keepaliveTimes(a, log), []);
});

test('handshake retransmission every rekeyTimeout(+jitter), giving up after rekeyAttemptTime', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  w.filter = () => true; // B is unreachable
  const start = clock.now;
  w.push(a, a.dev.send(b.key, p, clock.now));
  const times: number[] = [0];
  for (let t = 0; t < 150_000; t += 50) {
    clock.advance(50);
    for (const x of sends(w.push(a, a.dev.tick(clock.now))))
      if (x.message === 'initiation') times.push(clock.now - start);
  }
  const limits = resolveLimits();
  assert.equal(times.length, maxHandshakeAttempts(limits) + 2, 'wireguard-go: MaxTimerHandshakes + 2 attempts');
  for (let i = 1; i < times.length; i++) {
    const gap = times[i]! - times[i - 1]!;
    assert.ok(gap >= wg.rekeyTimeoutMs && gap <= wg.rekeyTimeoutMs + wg.rekeyTimeoutJitterMaxMs + 50, `gap ${gap}`);
  }
  assert.deepEqual(
    ofType(w.log.get(a)!, 'drop').map((d) => d.reason),
    ['no_session_timeout'],
    'the staged packet is dropped when A gives up',
  );
  // New traffic starts a fresh round of attempts.
  assert.deepEqual(
    sends(a.dev.send(b.key, p, clock.now)).map((x) => x.message),
    ['initiation'],
  );
});

test('a peer that stops answering data gets a new handshake after keepalive + rekeyTimeout', () => {
  const { a, b, clock } = makePair({ limits: { rekeyTimeoutJitterMaxMs: 0 } });
  const w = new Wire(a, b, clock);
  // A hears the handshake response but no transport message back (B's keepalive is lost).
  w.filter = (d) => d.dst === a && d.data[0] === 4;
  const start = clock.now;
  w.send(a, p);
  assert.equal(ofType(w.log.get(b)!, 'deliver').length, 1);
  let at: number | undefined;
  for (let t = 0; t < 20_000 && at === undefined; t += 100) {
    clock.advance(100);
    if (sends(w.push(a, a.dev.tick(clock.now))).some((x) => x.message === 'initiation')) at = clock.now - start;
  }
  assert.equal(at, wg.keepaliveTimeoutMs + wg.rekeyTimeoutMs);
});

test('the staging queue is bounded: the oldest packets are dropped, the newest are sent', () => {
  const { a, b, clock } = makePair({ bKnowsA: true, aKnowsB: false });
  const w = new Wire(a, b, clock);
  const packets = Array.from({ length: wg.stagedPacketsMax + 3 }, (_, i) =>
    ipv4Packet('198.19.0.1', '198.19.0.2', Uint8Array.of(i >> 8, i & 0xff)),
  );
  for (const pk of packets) w.push(a, a.dev.send(b.key, pk, clock.now));
  const drops = ofType(w.log.get(a)!, 'drop');
  assert.equal(drops.length, 3);
  assert.ok(drops.every((d) => d.reason === 'no_session_queue_full'));
  assert.equal(sends(w.log.get(a)!).length, 0, 'no endpoint yet: nothing is sent');
  // The endpoint arrives; the next tick starts the handshake and the queue drains.
  a.dev.updatePeer(b.key, { endpoint: b.endpoint });
  w.run(100);
  const got = ofType(w.log.get(b)!, 'deliver').map((d) => Buffer.from(d.packet).toString('hex'));
  assert.deepEqual(
    got,
    packets.slice(3).map((x) => Buffer.from(x).toString('hex')),
  );
});
