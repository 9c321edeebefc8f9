// A node behind a masquerading NAT router (issue #4, NAT; reliability R35):
//
//   n1 (P) ─┐                          ┌ lan ── n3 (N, node.reach: outbound)
//   n2 (Q) ─┴─ bridge ── wan ─ r1 (nft masquerade, forward: established only, UDP conntrack 2 s)
//
// N has only outbound connectivity: neither P nor Q can open anything towards it. It joins through P,
// its persistent keepalive (1 s here) makes P and Q learn its translated endpoint from authenticated
// packets and keeps the NAT mapping open, and membership keeps it alive by its heartbeats. Then:
//  (1) pings and TCP both ways, P→N and Q→N initiated by the public side; N stays alive on P and Q for
//      much longer than the failure timeout;
//  (2) R35: after 3 s idle (conntrack 2 s), and after 60 s idle (issue #4), the reverse direction delivers;
//  (4) roaming: N moves to another subnet behind the router during a TCP transfer P→N; the transfer
//      completes intact and traffic resumes within 5 s;
//  then N stops: P and Q declare it dead within the failure timeout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { Lab, waitFor } from '../helpers/netns.js';
import { Mesh, cliPath, testEngine, type PeerRow } from '../helpers/mesh.js';
import { assertPings, assertTransfers } from '../helpers/mesh-traffic.js';
import { natRouter, renumber, sysctlIn, type NatRouter } from '../helpers/nat-router.js';
import { ping, tcpTransfer } from '../helpers/transfer.js';

const failureTimeoutMs = 4000;
const idleLongMs = Number(process.env.NAT_IDLE_MS ?? 60_000);

let lab: Lab;
let mesh: Mesh;
let router: NatRouter;

const peerRow = async (on: string, name: string): Promise<PeerRow | undefined> =>
  (await mesh.status(on)).peers.find((p) => p.name === name);

before(async () => {
  lab = await Lab.create('nat-', { nodes: 3 });
  router = await natRouter(lab, lab.node('n3'), { name: 'r1', wanHost: 254, lanNet: 251, udpTimeoutS: 2 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'] },
    patch: (node, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs };
      if (node === 'n3') {
        (c.node as Record<string, unknown>).reach = 'outbound';
        // Any address: N's own address changes in the roaming test.
        c.wireguard = { ...c.wireguard, listen: `0.0.0.0:51820`, persistentKeepaliveSec: 1 };
        c.control = { ...c.control, listen: `0.0.0.0:4567`, advertiseUrl: '' };
      }
    },
  });
  mesh.start('n1');
  mesh.start('n2');
  await mesh.waitConverged(['n1', 'n2']);
  mesh.start('n3');
});

after(async () => {
  if (mesh) console.log(mesh.logs().slice(-6000));
  await mesh?.cleanup();
  await lab?.destroy();
});

test('setup: N cannot be reached from the public side; the router times out UDP mappings after 2 s', async () => {
  assert.equal(await sysctlIn(lab, router.ns, 'net.netfilter.nf_conntrack_udp_timeout'), '2');
  assert.equal(await sysctlIn(lab, router.ns, 'net.netfilter.nf_conntrack_udp_timeout_stream'), '2');
  // P has no route to N's LAN, and the router forwards nothing new inwards: its API is unreachable.
  const r = await lab.exec(lab.node('n1').ns, 'ping', ['-c', '1', '-W', '1', router.lanIp], { allowFailure: true });
  assert.notEqual(r.code, 0, 'the NATed node answered a ping from the public side');
});

test('(1) N joins and talks both ways with P and Q; P and Q learn its translated endpoint', async () => {
  await mesh.waitConverged(['n1', 'n2', 'n3'], 30_000);
  for (const pub of ['n1', 'n2']) {
    // The endpoint comes from N's authenticated packets (its keepalive): the router's wan address.
    const row = await waitFor(
      async () => {
        const p = await peerRow(pub, 'n3');
        return p?.endpoint?.startsWith(`${router.wanIp}:`) ? p : undefined;
      },
      { what: `${pub} to learn N's endpoint from its packets`, timeoutMs: 15_000, intervalMs: 250 },
    );
    assert.equal((row as PeerRow & { reach?: string }).reach, 'outbound');
  }
  const n3 = await mesh.status('n3');
  assert.deepEqual(n3.node.endpoints, [], 'a NATed node announces no endpoint of its own');
  // The public side initiates: P→N and Q→N first, then N→P and N→Q. The first handshake of a pair can take
  // one retry (5 s): N may learn a public node before that node has N's record, which drops N's first
  // initiation; and the transport layer may try its tls fallback meanwhile. So: through once, then exact.
  for (const [from, to] of [
    ['n1', 'n3'],
    ['n2', 'n3'],
  ] as const)
    await waitFor(
      async () => (await ping(lab, lab.node(from).ns, mesh.overlay4(to), { count: 1, timeoutS: 1 })).received === 1,
      { what: `a first ${from} → ${to} ping`, timeoutMs: 20_000, intervalMs: 100 },
    );
  await assertPings(lab, mesh, [
    ['n1', 'n3'],
    ['n2', 'n3'],
    ['n3', 'n1'],
    ['n3', 'n2'],
  ]);
  const pairs = [
    ['n1', 'n3'],
    ['n3', 'n2'],
  ] as const;
  await assertTransfers(lab, mesh, pairs, 8 * 1024 * 1024, 'NAT');
});

/** N's keepalive, changed live (`tunmesh reload`; 0 = off even behind NAT until a restart). */
async function setKeepalive(sec: number): Promise<void> {
  const file = mesh.configFile('n3');
  const c = parse(await readFile(file, 'utf8')) as Record<string, Record<string, unknown>>;
  c.wireguard = { ...c.wireguard, persistentKeepaliveSec: sec };
  await writeFile(file, stringify(c));
  await lab.exec(lab.node('n3').ns, process.execPath, [cliPath, 'reload', '-c', file]);
}

test('(2) R35: with conntrack 2 s and keepalive 1 s, the reverse direction delivers after 3 s and 60 s idle', async () => {
  // Truly idle tunnels: the daemons' RTT probes (a UDP echo through every tunnel each second) would keep
  // the NAT mapping open by themselves, so they are dropped at the TUN of every node.
  for (const n of ['n1', 'n2', 'n3'])
    await lab.exec(lab.node(n).ns, 'nft', ['-f', '-'], {
      input: `table inet natrtt {
  chain out { type filter hook output priority 0; policy accept; oifname "tunmesh0" udp dport 4568 drop; oifname "tunmesh0" udp sport 4568 drop; }
}
`,
    });
  for (const idleMs of [3000, idleLongMs]) {
    // Idle: no application traffic. Meanwhile N must stay alive everywhere (membership never contacts
    // it, so only its heartbeats keep it): sampled every second.
    const started = Date.now();
    let samples = 0;
    while (Date.now() - started < idleMs) {
      for (const pub of ['n1', 'n2']) {
        const row = await peerRow(pub, 'n3');
        assert.equal(row?.state, 'alive', `${pub} holds N ${row?.state} after ${Date.now() - started} ms idle`);
      }
      samples++;
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, idleMs - (Date.now() - started)))));
    }
    // Reverse direction first (public → NATed), then forward.
    for (const [from, to] of [
      ['n1', 'n3'],
      ['n2', 'n3'],
      ['n3', 'n1'],
      ['n3', 'n2'],
    ] as const) {
      const r = await ping(lab, lab.node(from).ns, mesh.overlay4(to), { count: 1, timeoutS: 2 });
      assert.equal(r.received, 1, `after ${idleMs} ms idle, ${from} → ${to}: ${r.output}`);
    }
    console.log(
      `# R35 after ${idleMs / 1000} s idle (conntrack 2 s, keepalive 1 s): reverse and forward delivered; N alive on P and Q in ${samples} samples (failure timeout ${failureTimeoutMs / 1000} s)`,
    );
  }
});

test('(4) roaming: N moves to another subnet during a TCP transfer P→N; it completes intact, traffic resumes ≤ 5 s', async () => {
  // Long enough that the move happens mid-transfer on either engine (native moves ~1 GiB/s here).
  const size = (testEngine() === 'native' ? 1024 : 96) * 1024 * 1024;
  const before = await peerRow('n1', 'n3');
  const transfer = tcpTransfer(lab, lab.node('n1').ns, lab.node('n3').ns, mesh.overlay4('n3'), size, {
    timeoutMs: 120_000,
  });
  let doneAt = Infinity;
  void transfer.then(
    () => (doneAt = Date.now()),
    () => undefined,
  );
  await new Promise((r) => setTimeout(r, 700));
  const movedAt = Date.now();
  await renumber(lab, lab.node('n3'), router, 250);
  const movedBy = Date.now();
  // Traffic resumes: N's next authenticated packet moves P's endpoint; a ping measures the gap.
  await waitFor(
    async () => (await ping(lab, lab.node('n1').ns, mesh.overlay4('n3'), { count: 1, timeoutS: 1 })).received === 1,
    { what: 'P → N ping after the move', timeoutMs: 5000, intervalMs: 50 },
  );
  const resumedMs = Date.now() - movedAt;
  const t = await transfer;
  assert.ok(doneAt > movedBy, 'the transfer ended before the move: it proves nothing');
  assert.equal(t.bytesReceived, size);
  assert.equal(t.receivedSha256, t.sentSha256);
  const afterRow = await peerRow('n1', 'n3');
  console.log(
    `# roaming: N moved ${'198.18.251.2'} → ${router.lanIp}; P's endpoint for N ${before?.endpoint} → ${afterRow?.endpoint}; ping through after ${resumedMs} ms; ${size >> 20} MiB P→N in ${t.seconds.toFixed(2)} s, sha256 equal`,
  );
  assert.ok(resumedMs <= 5000);
  assert.equal(afterRow?.state, 'alive');
  // N announces its new API address (re-derived); nobody calls it, but status and logs show the truth.
  await waitFor(async () => (await mesh.status('n3')).node.apiUrl?.includes(router.lanIp), {
    what: "N's record to carry its new address",
    timeoutMs: 10_000,
    intervalMs: 250,
  });
});

test('R35 control: with the keepalive off the NAT mapping expires and the public side cannot get through; once it is back, P → N recovers', async () => {
  await setKeepalive(0);
  await new Promise((r) => setTimeout(r, 4000));
  const blocked = await ping(lab, lab.node('n1').ns, mesh.overlay4('n3'), { count: 1, timeoutS: 1 });
  assert.equal(blocked.received, 0, 'without keepalive the reverse direction still worked: the test proves nothing');
  console.log('# R35 control: with keepalive off, P → N after 4 s idle: 0/1 delivered');
  // Back on at once: N's next keepalive opens a new mapping and P follows it. If P's unanswered sends moved
  // the pair to the tls fallback first, coming back is the transport layer's job: it probes UDP every
  // transport.recoverIntervalMs (10 s by default): recovery is asserted within 45 s (19 s measured on a
  // loaded machine: more than one probe interval can pass before UDP is trusted again).
  await setKeepalive(1);
  const back = Date.now();
  await waitFor(
    async () => (await ping(lab, lab.node('n1').ns, mesh.overlay4('n3'), { count: 1, timeoutS: 1 })).received === 1,
    {
      what: 'P → N again once the keepalive is back (≤ recoverIntervalMs 10 s + 15 s)',
      timeoutMs: 25_000,
      intervalMs: 100,
    },
  );
  console.log(`# R35 control: P → N through again ${Date.now() - back} ms after the keepalive came back`);
});

test('N stops: P and Q declare it dead within the failure timeout', async () => {
  const stoppedAt = Date.now();
  mesh.proc('n3').kill('SIGKILL');
  // Measured from the daemons' own log lines (status through the CLI takes ~1 s a call on this machine).
  const downAt = (node: string): number | undefined => {
    for (const l of mesh.proc(node).lines()) {
      if (!l.includes('"node n3 down (failed)"')) continue;
      const t = Date.parse((JSON.parse(l) as { time: string }).time);
      if (t >= stoppedAt) return t;
    }
    return undefined;
  };
  const took: number[] = [];
  for (const pub of ['n1', 'n2']) {
    const at = await waitFor(() => downAt(pub), {
      what: `${pub} to declare N dead`,
      timeoutMs: failureTimeoutMs + 4000,
      intervalMs: 50,
    });
    took.push(at - stoppedAt);
    assert.notEqual((await peerRow(pub, 'n3'))?.state, 'alive', pub);
  }
  console.log(
    `# NATed node declared dead on P and Q ${took.join(' / ')} ms after SIGKILL (failure timeout ${failureTimeoutMs} ms)`,
  );
  for (const ms of took) assert.ok(ms <= failureTimeoutMs, `${ms} ms`);
});
