// R26 crypto-key routing on the JS engine (over the memory twins): a peer that sends from an inner
// source outside its allowed IPs gets 0 packets delivered and each one is counted as
// source_not_allowed; when a more specific allowed IP is given to another peer, the route (and the
// right to send from that address) moves to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Secret } from '../../src/base/secret.js';
import { silentLogger } from '../../src/base/log.js';
import { encodeKey, publicKeyOf } from '../../src/crypto/keys.js';
import { JsEngine } from '../../src/dataplane/js-engine.js';
import { Metrics } from '../../src/metrics/registry.js';
import { WgDevice } from '../../src/noise/device.js';
import { FakeClock } from '../../src/platform/memory/clock.js';
import { MemoryInternet } from '../../src/platform/memory/internet.js';
import { MemoryTun } from '../../src/platform/memory/tun.js';
import { ipv4Packet, keyFromSeed, seededRandom } from '../helpers/wg-pair.js';

async function node(net: MemoryInternet, clock: FakeClock, name: string, ip: string) {
  const priv = keyFromSeed(`r26-${name}`);
  const udp = await net.addHost(ip).bind(ip, 51820);
  const tun = new MemoryTun(name);
  const device = new WgDevice({
    privateKey: new Secret(priv),
    random: seededRandom(name),
    wallClockMs: () => clock.wallNow(),
  });
  const metrics = new Metrics();
  const engine = new JsEngine({ tun, udp, device, clock, metrics, log: silentLogger() });
  engine.start();
  return { name, ip, key: encodeKey(publicKeyOf(priv)), tun, device, metrics, engine };
}

test('R26: spoofed inner sources are dropped and counted; a more specific allowed IP moves the route', async () => {
  const clock = new FakeClock();
  const net = new MemoryInternet({ clock });
  const a = await node(net, clock, 'a', '198.18.0.1');
  const b = await node(net, clock, 'b', '198.18.0.2');
  const c = await node(net, clock, 'c', '198.18.0.3');
  const peer = (x: typeof a, allowedIps: string[]) => ({
    publicKey: x.key,
    name: x.name,
    allowedIps,
    endpoint: { host: x.ip, port: 51820 },
  });
  a.engine.upsertPeer(peer(b, ['198.19.0.2/32']));
  b.engine.upsertPeer(peer(a, ['198.19.0.0/24']));
  const settle = () => {
    for (let i = 0; i < 5; i++) clock.advance(100);
  };
  a.tun.inject([ipv4Packet('198.19.0.1', '198.19.0.2')]);
  settle();
  assert.equal(b.tun.takeWritten().length, 1, 'a legitimate packet is delivered (the check can pass)');
  const dropped = () => b.metrics.value('packets_dropped_total', { reason: 'source_not_allowed' });
  const before = await dropped();
  const spoofed = 100;
  a.tun.inject(Array.from({ length: spoofed }, () => ipv4Packet('198.19.1.7', '198.19.0.2')));
  settle();
  assert.equal(b.tun.takeWritten().length, 0, '0 spoofed packets delivered');
  assert.equal((await dropped()) - before, spoofed, 'source_not_allowed == sent');
  // C gets the more specific 198.19.0.1/32: A may no longer send from it, and B routes it to C.
  b.engine.upsertPeer(peer(c, ['198.19.0.1/32']));
  const mid = await dropped();
  a.tun.inject([ipv4Packet('198.19.0.1', '198.19.0.2'), ipv4Packet('198.19.0.5', '198.19.0.2')]);
  settle();
  assert.equal(b.tun.takeWritten().length, 1, 'only the packet from .5 (still A’s) is delivered');
  assert.equal((await dropped()) - mid, 1);
  const toC = b.device.peerStatus(c.key)!;
  b.tun.inject([ipv4Packet('198.19.0.2', '198.19.0.1')]);
  settle();
  const after = b.device.peerStatus(c.key)!;
  assert.ok(after.txPackets + after.stagedPackets > toC.txPackets + toC.stagedPackets, 'the route moved to C');
  for (const x of [a, b, c]) await x.engine.stop();
});
