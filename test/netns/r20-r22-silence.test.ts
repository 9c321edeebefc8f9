// R20 silence: 10^5 random datagrams and 10^5 initiations with a bad mac1 at a running node are never
// answered — 0 bytes counted by an nft counter on the attacker's side — and each one that reached the
// socket is counted once as a drop. R22: a flood of initiations with a VALID mac1 (the attacker knows
// our public key) from 1000 sources engages cookies (under load) and keeps data-plane throughput
// between two other nodes ≥ 70 % of its baseline.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AttackLab, lastJson, outsideDelta, outsideTotal as sum } from '../helpers/attack-lab.js';
import type { Lab } from '../helpers/netns.js';
import type { Mesh } from '../helpers/mesh.js';
import { nftCounter, readCounter, udpRcvbufErrors } from '../helpers/impair-nft.js';

let t: AttackLab;
let lab: Lab;
let mesh: Mesh;

before(async () => {
  t = await AttackLab.create('tp8-');
  ({ lab, mesh } = t);
});

after(() => t?.destroy());

/** Drop counters of `node`, read from n2, so the attacker's namespace sees nothing but answers. */
const drops = (node: string) => t.drops(node, 'n2');

function flood(mode: string, count: number, rate: number, extra: string[] = []) {
  const args = [mode, lab.node('n1').ipv4, String(mesh.udpPort), String(count), String(rate), '20', ...extra];
  return t.script(lab.node('n3').ns, 'impair-flood.ts', args, 180_000).then((r) =>
    lastJson<{
      sent: number;
      replies: number;
      replyBytes: number;
      seconds: number;
      firstReplyMs?: number;
      checked: number;
      valid: number;
      cpuSeconds: number;
    }>(r.stdout),
  );
}

test('R20: 10^5 random datagrams + 10^5 bad-mac1 initiations: 0 bytes answered (nft), each arrival counted once', async () => {
  const n1 = lab.node('n1');
  const n3 = lab.node('n3');
  await nftCounter(lab, n3.ns, 'from_victim', 'in', `ip saddr ${n1.ipv4}`);
  await nftCounter(lab, n3.ns, 'from_victim6', 'in', `ip6 saddr ${n1.ipv6}`);
  await nftCounter(lab, n1.ns, 'attack_in', 'in', `ip saddr ${n3.ipv4} udp dport ${mesh.udpPort}`);
  const before = await drops('n1');
  const bufBefore = await udpRcvbufErrors(lab, n1.ns);
  const random = await flood('random', 100_000, 20_000);
  const badmac = await flood('badmac1', 100_000, 20_000);
  assert.equal(random.sent + badmac.sent, 200_000);
  await new Promise((r) => setTimeout(r, 600)); // one engine tick flushes the drop counters
  const fromVictim = await readCounter(lab, n3.ns, 'from_victim');
  const fromVictim6 = await readCounter(lab, n3.ns, 'from_victim6');
  const arrived = await readCounter(lab, n1.ns, 'attack_in');
  const bufLost = (await udpRcvbufErrors(lab, n1.ns)) - bufBefore;
  const afterDrops = await drops('n1');
  const delta = outsideDelta(before, afterDrops);
  console.log(
    `# R20 sent=200000 arrived=${arrived.packets} socketOverflow=${bufLost} counted=${sum(afterDrops) - sum(before)}` +
      ` answeredBytes=${fromVictim.bytes + fromVictim6.bytes} replies=${random.replies + badmac.replies}`,
  );
  assert.equal(fromVictim.bytes + fromVictim6.bytes, 0, '0 bytes leave the victim towards the attacker');
  assert.equal(random.replies + badmac.replies, 0);
  assert.ok(arrived.packets >= 190_000, `most datagrams reached n1 (${arrived.packets})`);
  // Every datagram that reached the socket is counted once. Socket overflows are counted by the kernel
  // per namespace and may include a few of n2's mesh packets, hence the small slack.
  const counted = sum(afterDrops) - sum(before);
  assert.ok(counted <= arrived.packets, `no drop counted twice: ${counted} > ${arrived.packets}`);
  assert.ok(Math.abs(counted - (arrived.packets - bufLost)) <= 20, `every arrival counted: ${JSON.stringify(delta)}`);
  // On the native engine, initiations beyond its bounded queue to TypeScript are counted there instead.
  const badMac = delta.bad_mac1! + delta.queue_full!;
  assert.ok(badMac >= 100_000 - bufLost, `bad_mac1 ${delta.bad_mac1} + queue_full ${delta.queue_full}`);
  assert.ok(mesh.proc('n1').running, 'n1 alive');
});

async function iperf(seconds: number, port: number): Promise<number> {
  const server = lab.spawn(lab.node('n1').ns, 'iperf3', ['-s', '-1', '-p', String(port), '-B', mesh.overlay4('n1')]);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const r = await lab.exec(
      lab.node('n2').ns,
      'iperf3',
      ['-c', mesh.overlay4('n1'), '-p', String(port), '-t', String(seconds), '-J'],
      { timeoutMs: (seconds + 20) * 1000 },
    );
    const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
    return j.end.sum_received.bits_per_second;
  } finally {
    server.kill('SIGKILL');
  }
}

/** p50 and p99 RTT (ms) of `count` pings n2 → n1 through the tunnel, 10 ms apart. */
async function pingRtt(count: number): Promise<{ p50: number; p99: number; lost: number }> {
  const r = await lab.exec(lab.node('n2').ns, 'ping', ['-n', '-c', String(count), '-i', '0.01', mesh.overlay4('n1')], {
    timeoutMs: count * 100 + 10_000,
  });
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
  const q = (f: number) => rtts[Math.min(rtts.length - 1, Math.floor(f * rtts.length))] ?? Infinity;
  return { p50: q(0.5), p99: q(0.99), lost: count - rtts.length };
}

/** CPU seconds (user + system, all threads) process `pid` has used. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** The series of metric `name` at `node`, read from n2. */
const metric = async (node: string, name: string) =>
  lastJson<Record<string, number>>(
    (await t.script(lab.node('n2').ns, 'hostile-probe.ts', ['metric', mesh.apiUrl(node), name, mesh.operatorTokenFile]))
      .stdout,
  );

// The row's flood lasts 60 s; npm test runs 14 s of it (TUNMESH_R22_SECONDS=60 for the full row).
const floodSeconds = Number(process.env.TUNMESH_R22_SECONDS ?? 14);

test('R22: a valid-mac1 initiation flood (10^4/s, 1000 sources): cookies at once, throughput ≥ 70 %, ping p50 ≤ 2× (p99 ≤ 2× + 3 ms), queue bounded, RSS flat', async () => {
  const n3 = lab.node('n3');
  const k = lab.subnetIndex;
  // 100 extra addresses on the attacker × 10 ports each = 1000 sources.
  const addrs = Array.from({ length: 100 }, (_, i) => `198.18.${k}.${150 + i}`);
  await lab.exec(n3.ns, 'ip', ['-batch', '-'], {
    input: addrs.map((a) => `addr add ${a}/32 dev eth0`).join('\n') + '\n',
  });
  // Every answer from the victim is counted in the kernel; past the first 200 (which the attacker opens
  // to check them) they are dropped before its sockets, so the attacker spends no CPU on them.
  const from = `ip saddr ${lab.node('n1').ipv4} udp sport ${mesh.udpPort}`;
  await nftCounter(lab, n3.ns, 'r22_replies', 'in', from);
  await lab.exec(n3.ns, 'nft', [
    'add',
    'rule',
    'inet',
    'tp8',
    'in',
    ...from.split(' '),
    'quota',
    'over',
    '18400',
    'bytes',
    'drop',
  ]);
  const status = await mesh.status('n1');
  const pid = mesh.proc('n1').pid;
  const pingBase = await pingRtt(200);
  const baseA = await iperf(4, 5201);
  const before = await drops('n1');
  const rssBefore = rssMiB(pid);
  const cpuBefore = cpuSeconds(pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(pid))), 250);
  const attack = flood('mac1', 10_000 * floodSeconds, 10_000, [status.node.publicKey, addrs.join(',')]);
  let loaded: number;
  let pingLoaded: Awaited<ReturnType<typeof pingRtt>>;
  let a: Awaited<typeof attack>;
  try {
    await new Promise((r) => setTimeout(r, 1000));
    loaded = await iperf(4, 5202);
    pingLoaded = await pingRtt(200);
    a = await attack;
  } finally {
    clearInterval(sampler);
  }
  const floodCpu = cpuSeconds(pid) - cpuBefore;
  const baseB = await iperf(4, 5203);
  const afterDrops = await drops('n1');
  const replies = await readCounter(lab, n3.ns, 'r22_replies');
  const queue = await metric('n1', 'tunmesh_fastpath_slow_queue_items');
  const delta = outsideDelta(before, afterDrops);
  // Against the mean of a baseline before and one after the flood, so a drift of the shared machine
  // between the two does not count as the flood's effect.
  const baseline = (baseA + baseB) / 2;
  const ratio = loaded / baseline;
  const mbit = (x: number) => (x / 1e6).toFixed(0);
  console.log(
    `# R22 baseline=${mbit(baseA)}/${mbit(baseB)} Mbit/s flooded=${mbit(loaded)} Mbit/s ratio=${ratio.toFixed(2)}` +
      ` ping p50/p99 ${pingBase.p50}/${pingBase.p99} → ${pingLoaded.p50}/${pingLoaded.p99} ms` +
      ` sent=${a.sent} in ${a.seconds.toFixed(1)} s first cookie after ${a.firstReplyMs?.toFixed(0)} ms` +
      ` replies=${replies.packets} (${replies.bytes} B; ${a.valid}/${a.checked} opened) queue peak=${queue['{stat="peak"}']}` +
      ` CPU-s during the flood: victim ${floodCpu.toFixed(1)} attacker ${a.cpuSeconds.toFixed(1)}` +
      ` RSS ${rssBefore.toFixed(1)} → max ${rssPeak.toFixed(1)} MiB drops=${JSON.stringify(delta)}`,
  );
  assert.equal(a.sent, 10_000 * floodSeconds);
  assert.ok(delta.bad_mac2! > 0.9 * a.sent, 'cookies engaged (initiations without mac2 refused)');
  assert.ok(a.firstReplyMs !== undefined && a.firstReplyMs <= 1000, `under load within 1 s (${a.firstReplyMs} ms)`);
  assert.ok(a.checked > 0 && a.valid === a.checked, `cookie replies open (${a.valid}/${a.checked})`);
  assert.ok(replies.packets >= 0.9 * a.sent, `cookie replies ${replies.packets}`);
  assert.ok(replies.bytes <= a.sent * (148 + 28), 'no amplification: fewer bytes answered than sent');
  assert.ok(ratio >= 0.7, `throughput under flood ${ratio.toFixed(2)} of baseline`);
  // Latency: the median may not double, and p99 may not exceed twice the baseline's by more than 3 ms. On two
  // vCPUs shared with the attacker's own process, p99 of 200 pings is scheduler noise at the millisecond
  // scale (one CI run: 0.75 → 2.2 ms with the median unchanged, 0.29 → 0.26 ms).
  assert.ok(pingLoaded.p50 <= 2 * pingBase.p50 + 0.1, `ping p50 ${pingLoaded.p50} ms ≤ 2 × ${pingBase.p50} ms`);
  assert.ok(pingLoaded.p99 <= 2 * pingBase.p99 + 3, `ping p99 ${pingLoaded.p99} ms ≤ 2 × ${pingBase.p99} ms + 3 ms`);
  assert.ok(pingLoaded.lost <= 2, `${pingLoaded.lost} pings lost under flood`);
  const peak = queue['{stat="peak"}'];
  assert.ok(peak !== undefined && peak <= 1024, `queue to TypeScript bounded (peak ${peak})`);
  assert.ok(rssPeak - rssBefore < 20, `RSS growth ${(rssPeak - rssBefore).toFixed(1)} MiB`);
  assert.ok(mesh.proc('n1').running, 'n1 alive');
});

test('R47: no secret (private key, cluster secret, TLS key) in logs, status, metrics or API error bodies', async () => {
  const { readFile } = await import('node:fs/promises');
  const { parse } = await import('yaml');
  const { join } = await import('node:path');
  const secrets: string[] = [];
  for (const node of ['n1', 'n2']) {
    const cfg = parse(await readFile(mesh.configFile(node), 'utf8')) as { node: { privateKeyFile: string } };
    const key = (await readFile(cfg.node.privateKeyFile, 'utf8')).trim();
    secrets.push(key, Buffer.from(key, 'base64').toString('hex'));
  }
  const cluster = (await readFile(join(mesh.dir, 'cluster.secret'), 'utf8')).trim();
  secrets.push(cluster, Buffer.from(cluster).toString('base64'));
  const tlsKey = (await readFile(join(mesh.dir, 'key.pem'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('-'));
  secrets.push(...tlsKey.slice(0, 3));
  // Status and body of a GET from n2; a failed request is a test failure, never a body that passes.
  // With `bearer`, the operator token goes along (/metrics needs it; /health then gives its breakdown).
  const get = async (path: string, bearer = false): Promise<{ status: number; body: string }> => {
    const r = await lab.exec(lab.node('n2').ns, process.execPath, [
      '-e',
      `const t = process.argv[2] ? require('node:fs').readFileSync(process.argv[2], 'utf8').trim() : ''; require('node:https').get(process.argv[1], { rejectUnauthorized: false, headers: t ? { authorization: 'Bearer ' + t } : {} }, (r) => { let s = ''; r.on('data', (d) => (s += d)); r.on('end', () => console.log(JSON.stringify({ status: r.statusCode, body: s }))); }).on('error', (e) => { console.error(e.message); process.exit(1); });`,
      `${mesh.apiUrl('n1')}${path}`,
      ...(bearer ? [mesh.operatorTokenFile] : []),
    ]);
    return JSON.parse(r.stdout) as { status: number; body: string };
  };
  const metrics = await get('/metrics', true);
  const health = await get('/health', true);
  const unauthenticated = await get('/v1/status');
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^tunmesh_/m, 'the metrics body is the metrics');
  assert.equal(health.status, 200);
  assert.equal(unauthenticated.status, 401, `unauthenticated /v1/status: ${unauthenticated.status}`);
  const surfaces: Record<string, string> = {
    'status n1': JSON.stringify(await mesh.status('n1')),
    'status n2': JSON.stringify(await mesh.status('n2')),
    metrics: metrics.body,
    health: health.body,
    'unauthenticated API error': unauthenticated.body,
    'log n1': mesh.proc('n1').log(),
    'log n2': mesh.proc('n2').log(),
  };
  let checked = 0;
  for (const [where, text] of Object.entries(surfaces)) {
    assert.ok(text.length > 0, `${where} is not empty`);
    for (const s of secrets) {
      assert.ok(s.length >= 16);
      assert.ok(!text.includes(s), `a secret appears in ${where}`);
      checked++;
    }
  }
  console.log(`# R47 ${checked} secret×surface checks, 0 leaks (${Object.keys(surfaces).length} surfaces)`);
});
