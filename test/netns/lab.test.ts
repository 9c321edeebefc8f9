// The shared netns lab works: nodes reach each other on IPv4 and IPv6, TCP transfers arrive intact,
// UDP helpers work, and destroy (explicit, on exit, on SIGTERM, or a later create) leaves nothing behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { Lab, subnetIndexOf, waitFor } from '../helpers/netns.js';
import { ping, tcpTransfer, udpListen, udpSend } from '../helpers/transfer.js';

function namespacesWith(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix) && /^[a-z0-9]+$/.test(n.slice(prefix.length)));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let lab: Lab | undefined;
after(async () => lab?.destroy());

test('lab: three nodes on a bridge, addresses derived from the prefix', async () => {
  lab = await Lab.create('tp4-', { nodes: 3 });
  const k = subnetIndexOf('tp4-');
  assert.equal(lab.subnetIndex, k);
  assert.deepEqual(
    lab.nodes.map((n) => [n.ns, n.ipv4, n.ipv6]),
    [1, 2, 3].map((i) => [`tp4-n${i}`, `198.18.${k}.${i}`, `fd00:18:${k}::${i}`]),
  );
  assert.deepEqual(namespacesWith('tp4-').sort(), ['tp4-br', 'tp4-n1', 'tp4-n2', 'tp4-n3']);
  const routes = await lab.exec('n1', 'ip', ['-4', 'route', 'show', 'default']);
  assert.equal(routes.stdout.trim(), '', 'no default route');
  const lo = await lab.exec('n1', 'ip', ['-br', 'link', 'show', 'lo']);
  assert.match(lo.stdout, /UNKNOWN|UP/);
});

test('lab: every node pings every other on IPv4 and IPv6', { timeout: 60_000 }, async () => {
  assert.ok(lab);
  for (const from of lab.nodes) {
    for (const to of lab.nodes) {
      if (from === to) continue;
      for (const addr of [to.ipv4, to.ipv6]) {
        const r = await ping(lab, from.name, addr, { count: 2, intervalS: 0.05 });
        assert.equal(r.received, 2, `${from.name} -> ${addr}: ${r.output}`);
        assert.ok(r.rttMs !== undefined && r.rttMs >= 0);
      }
    }
  }
  const lost = await ping(lab, 'n1', `198.18.${lab.subnetIndex}.99`, { count: 1, timeoutS: 1 });
  assert.equal(lost.received, 0, 'a missing host does not answer');
});

test('lab: a 5 MB TCP transfer arrives intact (IPv4 and IPv6)', { timeout: 60_000 }, async () => {
  assert.ok(lab);
  const v4 = await tcpTransfer(lab, 'n1', 'n2', lab.node('n2').ipv4, 5_000_000, { timeoutMs: 30_000 });
  assert.equal(v4.bytesReceived, 5_000_000);
  assert.equal(v4.receivedSha256, v4.sentSha256);
  assert.ok(v4.seconds > 0);
  const v6 = await tcpTransfer(lab, 'n3', 'n1', lab.node('n1').ipv6, 1_000_000, { timeoutMs: 30_000 });
  assert.equal(v6.receivedSha256, v6.sentSha256);
});

test('lab: UDP unicast, broadcast and multicast helpers', { timeout: 60_000 }, async () => {
  assert.ok(lab);
  const n1 = lab.node('n1');
  const uni = await udpListen(lab, 'n2', { port: 7001 });
  await udpSend(lab, 'n1', { to: lab.node('n2').ipv4, port: 7001, count: 3, text: 'hello {i}' });
  const got = await uni.waitForCount(3);
  assert.deepEqual(
    got.map((m) => [m.text, m.from]),
    [0, 1, 2].map((i) => [`hello ${i}`, n1.ipv4]),
  );
  await uni.stop();

  const listeners = await Promise.all(['n2', 'n3'].map((ns) => udpListen(lab!, ns, { port: 7002 })));
  await udpSend(lab, 'n1', { to: `198.18.${lab.subnetIndex}.255`, port: 7002, broadcast: true, text: 'bcast' });
  for (const l of listeners) assert.equal((await l.waitForCount(1))[0]!.text, 'bcast');
  await Promise.all(listeners.map((l) => l.stop()));

  const group = '239.18.0.1';
  const members = await Promise.all(
    ['n2', 'n3'].map((ns) => udpListen(lab!, ns, { port: 7003, groups: [group], iface: lab!.node(ns).ipv4 })),
  );
  await udpSend(lab, 'n1', { to: group, port: 7003, ttl: 1, iface: n1.ipv4, text: 'mcast' });
  for (const m of members) assert.equal((await m.waitForCount(1))[0]!.text, 'mcast');
  await Promise.all(members.map((m) => m.stop()));
});

test('lab: exec reports failures and timeouts with the command; spawn logs to a file', async () => {
  assert.ok(lab);
  await assert.rejects(
    lab.exec('n1', 'ip', ['link', 'show', 'nosuchdev']),
    /tp4-n1: ip link show nosuchdev failed.*nosuchdev/s,
  );
  await assert.rejects(lab.exec('n1', 'sleep', ['5'], { timeoutMs: 200 }), /timed out after 200 ms/);
  const r = await lab.exec('n1', 'cat', [], { input: 'via stdin' });
  assert.equal(r.stdout, 'via stdin');
  const p = lab.spawn('n2', 'sh', ['-c', 'echo out; echo err >&2; exit 3']);
  const exit = await p.waitExit(5000);
  assert.equal(exit.code, 3);
  assert.deepEqual(p.lines().filter(Boolean).sort(), ['err', 'out']);
  assert.ok(p.logFile.includes('artifacts/lab/tp4'));
});

test('lab: custom topology — a router namespace linking two nodes', async () => {
  assert.ok(lab);
  const r1 = await lab.addNamespace('r1');
  assert.equal(r1, 'tp4-r1');
  const a = await lab.link('n1', 'r1', '198.18.201.2/24', '198.18.201.1/24');
  const b = await lab.link('n3', 'r1', '198.18.202.2/24', '198.18.202.1/24');
  assert.deepEqual(a, { ifA: 'to-r1', ifB: 'to-n1' });
  assert.deepEqual(b, { ifA: 'to-r1', ifB: 'to-n3' });
  await lab.exec('r1', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await lab.exec('n1', 'ip', ['route', 'add', '198.18.202.0/24', 'via', '198.18.201.1']);
  await lab.exec('n3', 'ip', ['route', 'add', '198.18.201.0/24', 'via', '198.18.202.1']);
  const r = await ping(lab, 'n1', '198.18.202.2', { count: 2, intervalS: 0.05 });
  assert.equal(r.received, 2, r.output);
  const n4 = await lab.addNode();
  assert.equal(n4.ns, 'tp4-n4');
  assert.equal((await ping(lab, 'n4', lab.node(1).ipv4, { count: 1 })).received, 1);
});

test('lab: waitFor returns the first truthy value or names what it waited for', async () => {
  let calls = 0;
  assert.equal(
    await waitFor(() => (++calls >= 3 ? 'done' : undefined), { what: 'three calls', intervalMs: 1 }),
    'done',
  );
  await assert.rejects(
    waitFor(
      () => {
        throw new Error('not yet');
      },
      { what: 'the impossible', timeoutMs: 50, intervalMs: 10 },
    ),
    /timed out after 50 ms waiting for the impossible; last error: not yet/,
  );
});

test('lab: destroy ends every child (and its children) and deletes every namespace', async () => {
  assert.ok(lab);
  const direct = lab.spawn('n1', 'sleep', ['600']);
  const parent = lab.spawn('n2', 'sh', ['-c', 'sleep 600 & echo $!; wait']);
  const grandchild = Number(await waitFor(() => parent.lines()[0], { what: 'grandchild pid' }));
  const detached = lab.spawn('r1', 'setsid', ['sleep', '600']); // escapes the group, caught by netns pids
  await waitFor(() => alive(direct.pid) && alive(grandchild), { what: 'children running' });
  await lab.destroy();
  for (const pid of [direct.pid, parent.pid, grandchild, detached.pid]) {
    await waitFor(() => !alive(pid) || !isOurZombie(pid), { what: `pid ${pid} gone`, timeoutMs: 5000 });
  }
  assert.deepEqual(namespacesWith('tp4-'), []);
  assert.equal(lab.running().length, 0);
  lab = undefined;
});

function isOurZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

test('lab: a later create removes namespaces and processes a crashed run left behind', async () => {
  execFileSync('ip', ['netns', 'add', 'tp4-n7']);
  const orphan = spawn('ip', ['netns', 'exec', 'tp4-n7', 'sleep', '600'], { detached: true, stdio: 'ignore' });
  orphan.unref();
  await waitFor(() => execFileSync('ip', ['netns', 'pids', 'tp4-n7'], { encoding: 'utf8' }).trim() !== '', {
    what: 'orphan inside tp4-n7',
  });
  const fresh = await Lab.create('tp4-', { nodes: 1 });
  try {
    assert.deepEqual(namespacesWith('tp4-').sort(), ['tp4-br', 'tp4-n1']);
    await waitFor(() => !alive(orphan.pid!) || isOurZombie(orphan.pid!), { what: 'orphan killed', timeoutMs: 5000 });
  } finally {
    await fresh.destroy();
  }
});

test(
  'lab: a process that exits or is SIGTERMed with a live lab cleans up on its way out',
  { timeout: 60_000 },
  async () => {
    for (const how of ['exit', 'SIGTERM']) {
      const script = `
      import { Lab } from './test/helpers/netns.ts';
      const lab = await Lab.create('tp4-x-', { nodes: 2 });
      lab.spawn('n1', 'sleep', ['600']);
      console.log('up');
      if (process.argv.includes('exit')) process.exit(0);
      setInterval(() => {}, 1000);
    `;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, how], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await waitFor(() => out.includes('up') || child.exitCode !== null, { what: 'child lab up', timeoutMs: 20_000 });
        if (how === 'SIGTERM') child.kill('SIGTERM');
        const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
        const code = child.exitCode ?? (await exited);
        assert.equal(code, how === 'exit' ? 0 : 143);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      assert.deepEqual(namespacesWith('tp4-x-'), [], `namespaces left after ${how}`);
    }
  },
);
