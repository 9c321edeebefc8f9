// Underlay impairment with real TUN and daemons. R32: 30 % random loss (nft numgen, both directions)
// from before the first handshake: the handshake completes; then a 10 MiB TCP transfer through 30 % loss
// on its data direction completes intact.
// R33: 100 ms ± 30 ms delay, 3 % reordering, 5 % duplication through the userspace relay (no netem
// here): 0 inner duplicates delivered, TCP data intact. R36: a 20 s blackhole, then restore: traffic
// resumes within 15 s.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Lab, waitFor, type LabProcess } from '../helpers/netns.js';
import { Mesh } from '../helpers/mesh.js';
import { lossDrops, nftClearLoss, nftLoss, nftTable, relayPath } from '../helpers/impair-nft.js';
import { ping, tcpTransfer, udpListen, udpSend } from '../helpers/transfer.js';

let lab: Lab;
let mesh: Mesh;
let relay: LabProcess | undefined;

before(async () => {
  // n1–n2: loss and blackhole; n3–n4: through the relay in n5 (two separate meshes).
  lab = await Lab.create('tp8i-', { nodes: 5 });
  // These rows are about the UDP data plane itself: no fallback to the TLS stream around the impairments.
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n4: ['n3'] },
    patch: (_n, c) => void (c.transport = { methods: ['wireguard'] }),
  });
});

after(async () => {
  relay?.kill('SIGTERM');
  await mesh?.cleanup();
  await lab?.destroy();
});

test('R32: 30 % loss both ways from the start: handshake completes, 10 MiB TCP transfer completes intact', async () => {
  const n2 = lab.node('n2');
  // Both directions: n2's packets in from and out to the peer's WireGuard port.
  await nftLoss(lab, n2.ns, 30, `udp sport ${mesh.udpPort}`, ['in']);
  await nftLoss(lab, n2.ns, 30, `udp dport ${mesh.udpPort}`, ['out']);
  const started = Date.now();
  mesh.start('n1');
  mesh.start('n2');
  await mesh.waitConverged(['n1', 'n2'], 60_000);
  // First packet through the tunnel: the handshake has completed despite the loss.
  await waitFor(async () => (await ping(lab, n2.ns, mesh.overlay4('n1'), { count: 1, timeoutS: 1 })).received === 1, {
    what: 'a first ping through the lossy tunnel',
    timeoutMs: 90_000,
    intervalMs: 100,
  });
  const handshakeS = (Date.now() - started) / 1000;
  const lostInHandshake = await lossDrops(lab, n2.ns);
  // TCP itself cannot move 10 MiB through 30 % loss on data AND acks (≈ 51 % round-trip loss: RTO backoff
  // stalls it for minutes, measured > 240 s), so the bulk transfer runs with the 30 % on the data
  // direction only; the handshake above ran with loss both ways.
  await nftClearLoss(lab, n2.ns);
  await nftLoss(lab, n2.ns, 30, `udp sport ${mesh.udpPort}`, ['in']);
  const t = await tcpTransfer(lab, lab.node('n1').ns, n2.ns, mesh.overlay4('n2'), 10 * 1024 * 1024, {
    timeoutMs: 180_000,
  });
  const lostInTransfer = await lossDrops(lab, n2.ns);
  console.log(
    `# R32 lost ${lostInHandshake.packets} packets before the first packet, ${lostInTransfer.packets} packets / ${lostInTransfer.bytes} bytes during the transfer; first packet after ${handshakeS.toFixed(1)} s (incl. daemon start, 30 % loss both ways); 10 MiB at 30 %` +
      ` loss in ${t.seconds.toFixed(1)} s (${((t.bytesReceived * 8) / t.seconds / 1e6).toFixed(2)} Mbit/s)`,
  );
  // The row's figures (first packet 5–11 s, transfer 2.3 s quiet, 35 s on a loaded machine) with generous
  // bounds; the waits above (90 s, 180 s) are only there to end a stuck run.
  assert.ok(handshakeS <= 30, `first packet after ${handshakeS.toFixed(1)} s (bound 30 s)`);
  assert.ok(t.seconds <= 90, `10 MiB through 30 % loss took ${t.seconds.toFixed(1)} s (bound 90 s)`);
  // 30 % of the ≥ 10 MiB that crossed: well over 1 MiB, whatever the engine's GSO batching.
  assert.ok(lostInTransfer.bytes > 1024 * 1024, `the loss rule was in force (${lostInTransfer.bytes} bytes)`);
  assert.equal(t.bytesReceived, 10 * 1024 * 1024);
  assert.equal(t.receivedSha256, t.sentSha256);
  await nftClearLoss(lab, n2.ns);
});

test('R36: a 20 s blackhole, then restore: traffic resumes within 15 s', async () => {
  const n1 = lab.node('n1');
  const n2 = lab.node('n2');
  assert.equal((await ping(lab, n2.ns, mesh.overlay4('n1'), { count: 2 })).received, 2, 'path works before');
  await nftTable(lab, n2.ns);
  const rule = `ip daddr ${n1.ipv4} udp dport ${mesh.udpPort} drop comment "loss"`;
  await lab.exec(n2.ns, 'nft', ['add', 'rule', 'inet', 'tp8', 'out', ...rule.split(' ')]);
  await lab.exec(n2.ns, 'nft', [
    'add',
    'rule',
    'inet',
    'tp8',
    'in',
    ...rule.replace('daddr', 'saddr').replace('dport', 'sport').split(' '),
  ]);
  // Traffic keeps trying during the blackhole (so timers see data sent without answers).
  const during = await ping(lab, n2.ns, mesh.overlay4('n1'), { count: 40, intervalS: 0.5, timeoutS: 1 });
  assert.equal(during.received, 0, 'blackhole holds');
  await nftClearLoss(lab, n2.ns);
  const restored = Date.now();
  await waitFor(async () => (await ping(lab, n2.ns, mesh.overlay4('n1'), { count: 1, timeoutS: 1 })).received === 1, {
    what: 'traffic after the blackhole',
    timeoutMs: 15_000,
    intervalMs: 100,
  });
  console.log(`# R36 recovered ${((Date.now() - restored) / 1000).toFixed(1)} s after restore`);
});

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

test('R34: a 10 Mbit/s tbf cap under a 50 Mbit/s UDP stream: sender RSS flat (±10 MiB), excess dropped', async () => {
  const n1 = lab.node('n1');
  await lab.exec(n1.ns, 'tc', [
    'qdisc',
    'add',
    'dev',
    'eth0',
    'root',
    'tbf',
    'rate',
    '10mbit',
    'burst',
    '32kbit',
    'latency',
    '50ms',
  ]);
  try {
    const server = lab.spawn(lab.node('n2').ns, 'iperf3', ['-s', '-1', '-p', '5301', '-B', mesh.overlay4('n2')]);
    await new Promise((r) => setTimeout(r, 300));
    const pid = mesh.proc('n1').pid;
    const samples: number[] = [rssMiB(pid)];
    const client = lab.exec(
      n1.ns,
      'iperf3',
      ['-c', mesh.overlay4('n2'), '-p', '5301', '-u', '-b', '50M', '-t', '15', '-J'],
      { timeoutMs: 40_000 },
    );
    for (let i = 0; i < 15; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      samples.push(rssMiB(pid));
    }
    const j = JSON.parse((await client).stdout) as { end: { sum: { bits_per_second: number; lost_percent: number } } };
    server.kill('SIGKILL');
    const growth = Math.max(...samples) - samples[0]!;
    console.log(
      `# R34 offered 50 Mbit/s (iperf3 sum ${(j.end.sum.bits_per_second / 1e6).toFixed(1)} Mbit/s), lost ${j.end.sum.lost_percent.toFixed(0)} %;` +
        ` n1 RSS ${samples[0]!.toFixed(1)} -> max ${Math.max(...samples).toFixed(1)} MiB (growth ${growth.toFixed(1)})`,
    );
    assert.ok(j.end.sum.lost_percent > 50, 'the cap is in force: most of the excess is dropped');
    assert.ok(growth < 10, `RSS growth ${growth.toFixed(1)} MiB`);
    assert.ok(mesh.proc('n1').running);
  } finally {
    await lab.exec(n1.ns, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root'], { allowFailure: true });
  }
});

test('R33: delay 100±30 ms, 3 % reorder, 5 % duplicates via the relay: 0 inner duplicates, TCP intact', async () => {
  const [n3, n4, n5] = [lab.node('n3'), lab.node('n4'), lab.node('n5')];
  await relayPath(lab, { ns: n3.ns, ip: n3.ipv4 }, { ns: n4.ns, ip: n4.ipv4 }, mesh.udpPort, n5.ipv4, 6001, 6002);
  const opts = {
    host: n5.ipv4,
    listenA: 6001,
    listenB: 6002,
    toA: { host: n3.ipv4, port: mesh.udpPort },
    toB: { host: n4.ipv4, port: mesh.udpPort },
    delayMs: 100,
    jitterMs: 30,
    reorderPct: 3,
    reorderExtraMs: 40,
    duplicatePct: 5,
    seed: 33,
  };
  relay = lab.spawn(n5.ns, process.execPath, ['--import', 'tsx', 'test/helpers/impair-relay.ts', JSON.stringify(opts)]);
  await waitFor(() => relay!.lines().includes('ready'), { what: 'relay ready', timeoutMs: 15_000 });
  mesh.start('n3');
  mesh.start('n4');
  await mesh.waitConverged(['n3', 'n4'], 60_000);
  await waitFor(async () => (await ping(lab, n4.ns, mesh.overlay4('n3'), { count: 1, timeoutS: 2 })).received === 1, {
    what: 'a first ping through the relay',
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  const rtt = (await ping(lab, n4.ns, mesh.overlay4('n3'), { count: 5 })).rttMs ?? 0;
  const replayed = async (): Promise<number> =>
    Number(/^tunmesh_packets_dropped_total\{reason="replayed"\} (\d+)$/m.exec(await mesh.metricsText('n3'))?.[1] ?? 0);
  const replayedBefore = await replayed();
  const listener = await udpListen(lab, n3.ns, { port: 7000, address: mesh.overlay4('n3') });
  const count = 1000;
  await udpSend(lab, n4.ns, { to: mesh.overlay4('n3'), port: 7000, count, intervalMs: 2, text: 'm{i}' });
  await new Promise((r) => setTimeout(r, 1500));
  const got = listener.messages().map((m) => m.text);
  await listener.stop();
  const dups = got.length - new Set(got).size;
  const replayDrops = (await replayed()) - replayedBefore;
  const t = await tcpTransfer(lab, n4.ns, n3.ns, mesh.overlay4('n3'), 2 * 1024 * 1024, { timeoutMs: 120_000 });
  relay.kill('SIGTERM');
  await relay.waitExit(5_000);
  const stats = JSON.parse(relay.lines().find((l) => l.startsWith('{')) ?? '{}') as Record<string, number>;
  relay = undefined;
  console.log(
    `# R33 rtt=${rtt} ms udp ${got.length}/${count} received, ${dups} inner duplicates; 2 MiB TCP in ${t.seconds.toFixed(1)} s` +
      ` (${((t.bytesReceived * 8) / t.seconds / 1e6).toFixed(2)} Mbit/s); relay ${JSON.stringify(stats)}; ` +
      `n3 replayed drops during the UDP run: ${replayDrops}`,
  );
  assert.ok(rtt >= 140, `the relay's delay is on the path (rtt ${rtt} ms)`);
  assert.ok((stats.duplicated ?? 0) > 0 && (stats.reordered ?? 0) > 0, 'the relay duplicated and reordered');
  assert.equal(dups, 0, '0 inner duplicates delivered');
  // The replay filter did the work (the relay's duplicates reached n3 and were dropped as replayed), and
  // it dropped no more than the relay duplicated in all (both directions, UDP and TCP): no false replay drops
  // beyond what duplication explains.
  assert.ok(replayDrops > 0, 'duplicates reached n3 and were dropped as replayed');
  assert.ok(replayDrops <= (stats.duplicated ?? 0), `${replayDrops} replayed drops > ${stats.duplicated} duplicates`);
  assert.ok(got.length >= count * 0.98, `UDP mostly delivered (${got.length})`);
  assert.equal(t.receivedSha256, t.sentSha256);
});
