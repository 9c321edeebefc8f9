// The memory twins pass the platform compliance suite, plus the knobs only they have: loss, duplication,
// reordering, partitions, NAT behaviour, and deterministic fake time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/platform/memory/clock.js';
import { MemoryInternet, type MemoryHost } from '../../src/platform/memory/internet.js';
import { MemoryTunFactory } from '../../src/platform/memory/tun.js';
import { SeededRandom } from '../../src/platform/memory/random.js';
import type { Datagram, DatagramSocket } from '../../src/platform/ports.js';
import {
  buildIPv4Udp,
  clockCompliance,
  parseIPv4Udp,
  tunCompliance,
  udpCompliance,
  type Settle,
} from '../helpers/platform-compliance.js';

const fakeSettle = (clock: FakeClock): Settle => ({
  settle: async () => clock.advance(10),
  maxSteps: 500,
});

clockCompliance('FakeClock', () => {
  const clock = new FakeClock();
  return { clock, wait: async (ms) => clock.advance(ms) };
});

udpCompliance('MemoryInternet', async () => {
  const clock = new FakeClock();
  const net = new MemoryInternet({ clock, conditions: { latencyMs: 3, jitterMs: 2 } });
  const a = net.addHost(['198.18.0.1', 'fd00:18::1']);
  const b = net.addHost(['198.18.0.2', 'fd00:18::2']);
  return {
    ...fakeSettle(clock),
    a: { factory: a, ipv4: '198.18.0.1', ipv6: 'fd00:18::1' },
    b: { factory: b, ipv4: '198.18.0.2', ipv6: 'fd00:18::2' },
    foreignIpv4: '198.18.255.254',
    close: async () => {},
  };
});

tunCompliance('MemoryTun', async () => {
  const factory = new MemoryTunFactory();
  const tun = await factory.open('tm0');
  const hostAddr = '198.19.251.1';
  const peerAddr = '198.19.251.2';
  return {
    tun,
    name: 'tm0',
    hostAddr,
    peerAddr,
    settle: async () => {},
    maxSteps: 3,
    // The twin has no IP stack: the fixture plays it, building and parsing the packets.
    hostSendUdp: async (payload, srcPort, dstPort) =>
      tun.inject([buildIPv4Udp(hostAddr, srcPort, peerAddr, dstPort, payload)]),
    hostListenUdp: async (port) => {
      const received: Datagram[] = [];
      tun.onWritten((p) => {
        const u = parseIPv4Udp(p);
        if (u && u.dst === hostAddr && u.dstPort === port) {
          received.push({ data: u.payload, from: { host: u.src, port: u.srcPort } });
        }
      });
      return { received, close: async () => tun.onWritten(undefined) };
    },
    exists: async () => factory.exists('tm0'),
    close: async () => {},
  };
});

// ---- FakeClock specifics ----

test('FakeClock: timers due at the same time fire in creation order; now() is the due time', () => {
  const clock = new FakeClock({ startMs: 1000 });
  const seen: string[] = [];
  for (const name of ['a', 'b', 'c']) clock.after(5, () => seen.push(`${name}@${clock.now()}`));
  clock.advance(4);
  assert.deepEqual(seen, []);
  clock.advance(100);
  assert.deepEqual(seen, ['a@1005', 'b@1005', 'c@1005']);
  assert.equal(clock.now(), 1104);
  assert.equal(clock.pendingTimers, 0);
});

test('FakeClock: runUntilIdle stops at its bound with periodic timers', () => {
  const clock = new FakeClock();
  let ticks = 0;
  const tick = (): void => {
    ticks++;
    clock.after(100, tick);
  };
  clock.after(100, tick);
  clock.runUntilIdle(1000);
  assert.equal(ticks, 10);
  assert.equal(clock.pendingTimers, 1);
});

// ---- MemoryInternet conditions ----

async function pair(
  net: MemoryInternet,
  a: MemoryHost,
  b: MemoryHost,
): Promise<{ sa: DatagramSocket; sb: DatagramSocket; got: number[] }> {
  const sa = await a.bind('0.0.0.0', 1000);
  const sb = await b.bind('0.0.0.0', 2000);
  const got: number[] = [];
  sb.onMessage((d) => got.push(d.data.readUInt32BE(0)));
  void net;
  return { sa, sb, got };
}

function seq(i: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(i);
  return b;
}

test('MemoryInternet: loss, duplication and reordering happen at about the configured rates', async () => {
  const clock = new FakeClock();
  const net = new MemoryInternet({
    clock,
    seed: 7,
    conditions: { latencyMs: 10, loss: 0.2, duplicate: 0.1, reorder: 0.1, reorderDelayMs: 50 },
  });
  const { sa, got } = await pair(net, net.addHost('198.18.0.1'), net.addHost('198.18.0.2'));
  const n = 5000;
  for (let i = 0; i < n; i++) {
    sa.send(seq(i), { host: '198.18.0.2', port: 2000 });
    clock.advance(1);
  }
  clock.advance(1000);
  const unique = new Set(got);
  const lossRate = 1 - unique.size / n;
  const dupRate = (got.length - unique.size) / unique.size;
  let inversions = 0;
  for (let i = 1; i < got.length; i++) if (got[i]! < got[i - 1]!) inversions++;
  assert.ok(lossRate > 0.15 && lossRate < 0.25, `loss ${lossRate}`);
  assert.ok(dupRate > 0.07 && dupRate < 0.13, `duplication ${dupRate}`);
  assert.ok(inversions > 100, `only ${inversions} reorderings`);
  assert.equal(net.stats.dropped.loss, n - unique.size);
});

test('MemoryInternet: the same seed gives the same run', async () => {
  const run = async (seed: number): Promise<number[]> => {
    const clock = new FakeClock();
    const net = new MemoryInternet({ clock, seed, conditions: { latencyMs: 5, jitterMs: 20, loss: 0.3 } });
    const { sa, got } = await pair(net, net.addHost('198.18.0.1'), net.addHost('198.18.0.2'));
    for (let i = 0; i < 200; i++) sa.send(seq(i), { host: '198.18.0.2', port: 2000 });
    clock.advance(100);
    return got;
  };
  assert.deepEqual(await run(42), await run(42));
  assert.notDeepEqual(await run(42), await run(43));
});

test('MemoryInternet: partitions, blocks and offline hosts stop traffic until healed', async () => {
  const clock = new FakeClock();
  const net = new MemoryInternet({ clock });
  const [h1, h2, h3] = [net.addHost('198.18.0.1'), net.addHost('198.18.0.2'), net.addHost('198.18.0.3')];
  const s1 = await h1.bind('0.0.0.0', 1);
  const got: string[] = [];
  for (const h of [h2, h3]) (await h.bind('0.0.0.0', 9)).onMessage((d) => got.push(`${d.from.host}>${h.ips[0]}`));
  const blast = (): void => {
    s1.send(Buffer.from('x'), { host: '198.18.0.2', port: 9 });
    s1.send(Buffer.from('x'), { host: '198.18.0.3', port: 9 });
    clock.advance(1);
  };
  net.partition([[h1], [h2]]);
  blast();
  assert.deepEqual(got.splice(0), ['198.18.0.1>198.18.0.3'], 'h3 is in no group and still reachable');
  net.heal();
  net.block('198.18.0.1', h3);
  blast();
  assert.deepEqual(got.splice(0), ['198.18.0.1>198.18.0.2']);
  net.heal();
  h2.setOnline(false);
  blast();
  assert.deepEqual(got.splice(0), ['198.18.0.1>198.18.0.3']);
  h2.setOnline(true);
  blast();
  assert.equal(got.splice(0).length, 2);
  assert.equal(net.stats.dropped.partition, 2);
  assert.equal(net.stats.dropped.offline, 1);
});

test('MemoryInternet: a datagram without a listener or route is counted, not thrown', async () => {
  const clock = new FakeClock();
  const net = new MemoryInternet({ clock });
  const s = await net.addHost('198.18.0.1').bind('0.0.0.0', 0);
  net.addHost('198.18.0.2');
  s.send(Buffer.from('x'), { host: '198.18.0.2', port: 5 });
  s.send(Buffer.from('x'), { host: '198.18.9.9', port: 5 });
  clock.advance(1);
  assert.equal(net.stats.dropped.noListener, 1);
  assert.equal(net.stats.dropped.noRoute, 1);
});

// ---- NAT ----

async function natLab(opts: Partial<Parameters<MemoryInternet['addNat']>[0]> = {}) {
  const clock = new FakeClock();
  const net = new MemoryInternet({ clock, conditions: { latencyMs: 1 } });
  const server = net.addHost('198.18.0.10');
  const other = net.addHost('198.18.0.11');
  const nat = net.addNat({ outsideIp: '198.18.0.1', ...opts });
  const inside = nat.addHost('198.18.100.2');
  const srv = await server.bind('0.0.0.0', 3478);
  const oth = await other.bind('0.0.0.0', 3478);
  const cli = await inside.bind('0.0.0.0', 5000);
  const atSrv: Datagram[] = [];
  const atOth: Datagram[] = [];
  const atCli: Datagram[] = [];
  srv.onMessage((d) => atSrv.push(d));
  oth.onMessage((d) => atOth.push(d));
  cli.onMessage((d) => atCli.push(d));
  return { clock, net, nat, srv, oth, cli, atSrv, atOth, atCli };
}

test('NAT: inside source is mapped to the outside address; replies come back; unsolicited is filtered', async () => {
  const l = await natLab();
  l.cli.send(Buffer.from('hi'), { host: '198.18.0.10', port: 3478 });
  l.clock.advance(5);
  assert.equal(l.atSrv.length, 1);
  const seen = l.atSrv[0]!.from;
  assert.equal(seen.host, '198.18.0.1');
  assert.equal(seen.port, 5000, 'Linux-like NAT keeps a free source port');
  assert.deepEqual(l.nat.mappedEndpoint({ host: '198.18.100.2', port: 5000 }), seen);
  l.srv.send(Buffer.from('reply'), seen);
  l.oth.send(Buffer.from('unsolicited'), seen); // address-and-port-dependent filtering drops this
  l.clock.advance(5);
  assert.deepEqual(
    l.atCli.map((d) => [d.data.toString(), d.from.host]),
    [['reply', '198.18.0.10']],
  );
  assert.equal(l.net.stats.dropped.natFiltered, 1);
});

test('NAT: endpoint-independent filtering lets anyone use a live mapping', async () => {
  const l = await natLab({ filtering: 'endpoint-independent' });
  l.cli.send(Buffer.from('hi'), { host: '198.18.0.10', port: 3478 });
  l.clock.advance(5);
  l.oth.send(Buffer.from('from other'), l.atSrv[0]!.from);
  l.clock.advance(5);
  assert.equal(l.atCli.length, 1);
});

test('NAT: a symmetric NAT maps each destination to its own port', async () => {
  const l = await natLab({ mapping: 'endpoint-dependent' });
  l.cli.send(Buffer.from('a'), { host: '198.18.0.10', port: 3478 });
  l.cli.send(Buffer.from('b'), { host: '198.18.0.11', port: 3478 });
  l.clock.advance(5);
  assert.notEqual(l.atSrv[0]!.from.port, l.atOth[0]!.from.port);
  assert.equal(l.nat.activeMappings(), 2);
});

test('NAT: an idle mapping expires; traffic in either direction keeps it alive', async () => {
  const l = await natLab({ idleTimeoutMs: 1000 });
  l.cli.send(Buffer.from('hi'), { host: '198.18.0.10', port: 3478 });
  l.clock.advance(5);
  const outside = l.atSrv[0]!.from;
  for (let i = 0; i < 5; i++) {
    l.clock.advance(900);
    l.srv.send(Buffer.from('keepalive'), outside); // inbound refreshes too
  }
  l.clock.advance(5);
  assert.equal(l.atCli.length, 5);
  l.clock.advance(1500);
  l.srv.send(Buffer.from('too late'), outside);
  l.clock.advance(5);
  assert.equal(l.atCli.length, 5);
  assert.equal(l.nat.activeMappings(), 0);
});

test('NAT: hosts behind the same NAT reach each other directly and by hairpin', async () => {
  const l = await natLab({ filtering: 'endpoint-independent' });
  const peer = l.nat.addHost('198.18.100.3');
  const ps = await peer.bind('0.0.0.0', 6000);
  const atPeer: Datagram[] = [];
  ps.onMessage((d) => atPeer.push(d));
  l.cli.send(Buffer.from('direct'), { host: '198.18.100.3', port: 6000 });
  ps.send(Buffer.from('open'), { host: '198.18.0.10', port: 3478 }); // creates the peer's mapping
  l.clock.advance(5);
  const peerOutside = l.atSrv.at(-1)!.from;
  l.cli.send(Buffer.from('hairpin'), peerOutside);
  l.clock.advance(5);
  assert.deepEqual(
    atPeer.map((d) => [d.data.toString(), d.from.host]),
    [
      ['direct', '198.18.100.2'],
      ['hairpin', '198.18.0.1'],
    ],
  );
});

test('NAT: inside addresses are private — two NATs may reuse them', async () => {
  const clock = new FakeClock();
  const net = new MemoryInternet({ clock });
  const n1 = net.addNat({ outsideIp: '198.18.0.1' });
  const n2 = net.addNat({ outsideIp: '198.18.0.2' });
  const h1 = n1.addHost('198.18.100.2');
  const h2 = n2.addHost('198.18.100.2');
  const srv = await net.addHost('198.18.0.10').bind('0.0.0.0', 1);
  const from: string[] = [];
  srv.onMessage((d) => from.push(d.from.host));
  (await h1.bind('0.0.0.0', 0)).send(Buffer.from('1'), { host: '198.18.0.10', port: 1 });
  (await h2.bind('0.0.0.0', 0)).send(Buffer.from('2'), { host: '198.18.0.10', port: 1 });
  clock.advance(1);
  assert.deepEqual(from.sort(), ['198.18.0.1', '198.18.0.2']);
});

// ---- MemoryTun and SeededRandom ----

test('MemoryTunFactory: a name is busy while its device is open', async () => {
  const f = new MemoryTunFactory();
  const t = await f.open('tm9');
  await assert.rejects(f.open('tm9'), { code: 'TUN_SETUP_FAILED' });
  await t.close();
  assert.equal(f.exists('tm9'), false);
  await (await f.open('tm9')).close();
});

test('MemoryTun: written packets are kept up to a bound and the overflow is counted', async () => {
  const t = await new MemoryTunFactory().open('tm1');
  const p = buildIPv4Udp('198.19.0.1', 1, '198.19.0.2', 2, Buffer.from('x'));
  for (let i = 0; i < t.keepWrittenMax + 3; i++) t.write(p);
  assert.equal(t.takeWritten().length, t.keepWrittenMax);
  assert.equal(t.droppedWritten, 3);
  assert.equal(t.takeWritten().length, 0);
});

test('SeededRandom: deterministic, in range', () => {
  const a = new SeededRandom(5);
  const b = new SeededRandom(5);
  const xs = Array.from({ length: 1000 }, () => a.float());
  assert.deepEqual(
    xs,
    Array.from({ length: 1000 }, () => b.float()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.equal(new SeededRandom(1).bytes(32).length, 32);
});
