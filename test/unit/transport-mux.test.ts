// TransportMux's handling of tunmesh's own datagrams: probes are answered only when authenticated and from
// a peer that may fall back; null frames are accepted only from null peers and still source-checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { silentLogger } from '../../src/base/log.js';
import { Secret } from '../../src/base/secret.js';
import { generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import { EngineCore } from '../../src/dataplane/engine-core.js';
import { Metrics } from '../../src/metrics/registry.js';
import { WgDevice } from '../../src/noise/device.js';
import { decodeProbe, encodeNull, encodeProbe, probeKey } from '../../src/transport/frames.js';
import { TransportMux } from '../../src/transport/mux.js';
import { defaultPathTiming } from '../../src/transport/path-machine.js';

const key = probeKey('cluster');
const ep = { host: '198.18.0.2', port: 51820 };

function setup() {
  const selfPriv = generatePrivateKey();
  const self = publicKeyOf(selfPriv);
  const wgPeer = publicKeyOf(generatePrivateKey());
  const nullPeer = publicKeyOf(generatePrivateKey());
  const b64 = (k: Uint8Array) => Buffer.from(k).toString('base64');
  const metrics = new Metrics();
  const device = new WgDevice({
    privateKey: new Secret(selfPriv),
    random: (n) => randomBytes(n),
    wallClockMs: () => Date.now(),
  });
  const core = new EngineCore({ device, metrics, log: silentLogger() });
  const written: Uint8Array[] = [];
  core.setHooks({ sendUdp: () => undefined, writeTun: (p) => written.push(p) > 0 });
  const sent: { data: Uint8Array; to: { host: string; port: number } }[] = [];
  let foreign: (d: Buffer, from: { host: string; port: number }) => boolean = () => false;
  const mux = new TransportMux({
    engine: { core, sendRaw: (data, to) => sent.push({ data, to }), onForeignDatagram: (f) => (foreign = f) },
    metrics,
    log: silentLogger(),
    now: () => 1000,
    wallNow: () => 1_700_000_000_000,
    random: (n) => randomBytes(n),
    selfKey: self,
    probeKey: key,
    timing: defaultPathTiming,
    dial: () => Promise.reject(new Error('no dialing here')) as Promise<Duplex>,
    peerName: (k) => k.slice(0, 6),
  });
  core.install({ publicKey: b64(wgPeer), name: 'wg', allowedIps: ['198.19.0.2/32'], endpoint: ep });
  core.install({ publicKey: b64(nullPeer), name: 'null', allowedIps: ['198.19.0.3/32'], endpoint: ep });
  mux.setPeer(b64(wgPeer), { method: 'wireguard', fallback: true });
  mux.setPeer(b64(nullPeer), { method: 'null', fallback: false });
  const drops = async (reason: string) => {
    core.drops.flush();
    return metrics.value('packets_dropped_total', { reason } as never);
  };
  return { self, wgPeer, nullPeer, sent, written, foreign: (d: Buffer) => foreign(d, ep), drops, mux };
}

const ping = (sender: Uint8Array, receiver: Uint8Array, k = key) =>
  encodeProbe(k, { pong: false, sender, receiver, wallMs: 1_700_000_000_000, nonce: randomBytes(8) });

test('an authenticated ping from a fallback peer gets a pong for that peer, to where it came from', () => {
  const s = setup();
  assert.equal(s.foreign(ping(s.wgPeer, s.self)), true);
  assert.equal(s.sent.length, 1);
  assert.deepEqual(s.sent[0]!.to, ep);
  const pong = decodeProbe(key, s.sent[0]!.data, s.wgPeer, 1_700_000_000_000, 1000);
  assert.equal(pong?.pong, true);
});

test('probes with a wrong key, for another receiver, from a non-fallback peer, or unasked pongs: no reply', async () => {
  const s = setup();
  s.foreign(ping(s.wgPeer, s.self, probeKey('other')));
  s.foreign(ping(s.wgPeer, s.wgPeer));
  s.foreign(ping(s.nullPeer, s.self));
  s.foreign(
    encodeProbe(key, {
      pong: true,
      sender: s.wgPeer,
      receiver: s.self,
      wallMs: 1_700_000_000_000,
      nonce: randomBytes(8),
    }),
  );
  assert.equal(s.sent.length, 0);
  assert.equal(await s.drops('probe_invalid'), 4);
});

test('null frames: only from a null peer, and only from its allowed source', async () => {
  const s = setup();
  const ipv4 = (src: number[]) => {
    const p = Buffer.alloc(20);
    p[0] = 0x45;
    p.writeUInt16BE(20, 2);
    p.set(src, 12);
    p.set([198, 19, 0, 1], 16);
    return p;
  };
  s.foreign(encodeNull(s.wgPeer, ipv4([198, 19, 0, 2])));
  assert.equal(await s.drops('null_unknown_sender'), 1);
  s.foreign(encodeNull(s.nullPeer, ipv4([198, 19, 0, 2])));
  assert.equal(await s.drops('source_not_allowed'), 1);
  assert.equal(s.written.length, 0);
  s.foreign(encodeNull(s.nullPeer, ipv4([198, 19, 0, 3])));
  assert.equal(s.written.length, 1);
  assert.equal(s.mux.status(Buffer.from(s.nullPeer).toString('base64'))?.path, 'null');
});

test('WireGuard datagrams are left to the engine', () => {
  const s = setup();
  assert.equal(s.foreign(Buffer.from([1, 0, 0, 0, 9])), false);
  // Shaped wrong for our own types (garbage): left to the device, which counts it as WireGuard would.
  assert.equal(s.foreign(Buffer.from([0x10, 1, 2, 3, 9])), false);
  assert.equal(s.foreign(Buffer.alloc(67, 0x11)), false);
});
