// `tunmesh reload` and SIGHUP on a running node: changed live settings take effect while a TCP transfer
// crosses the mesh, the transfer survives intact (tunnels are not dropped), and restart-needing changes
// are reported as such with the running value kept.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { Lab, waitFor } from '../helpers/netns.js';
import { Mesh, cliPath } from '../helpers/mesh.js';
import { tcpTransfer } from '../helpers/transfer.js';

let lab: Lab;
let mesh: Mesh;
const gwKey = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=';

before(async () => {
  lab = await Lab.create('tp9r-', { nodes: 2 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'] },
    patch: (_n, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs: 5000 };
    },
  });
  mesh.start('n1');
  mesh.start('n2');
  await mesh.waitConverged(['n1', 'n2'], 30_000);
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function editConfig(node: string, edit: (c: Record<string, any>) => void): Promise<void> {
  const file = mesh.configFile(node);
  const c = parse(await readFile(file, 'utf8')) as Record<string, Record<string, unknown>>;
  edit(c);
  await writeFile(file, stringify(c));
}

function cli(node: string, args: string[], allowFailure = false) {
  return lab.exec(lab.node(node).ns, process.execPath, [cliPath, ...args, '-c', mesh.configFile(node)], {
    allowFailure,
  });
}

const peerNames = async (node: string) =>
  (JSON.parse((await cli(node, ['peers', '--json'])).stdout) as { name: string }[]).map((p) => p.name).sort();

test('reload applies live settings during a TCP transfer, which survives; restart-needing changes are named', async () => {
  const debugLines = () =>
    mesh
      .proc('n1')
      .lines()
      .filter((l) => l.includes('"level":20')).length;
  assert.equal(debugLines(), 0, 'starts at info');
  let done = false;
  // Settled into a value so a failure surfaces in this test, not as an unhandled rejection later.
  const transfer = tcpTransfer(lab, lab.node('n2').ns, lab.node('n1').ns, mesh.overlay4('n1'), 300 * 1024 * 1024, {
    timeoutMs: 120_000,
    minSeconds: 15,
  }).then(
    (t) => ((done = true), t),
    (e: Error) => ((done = true), e),
  );
  // Until bytes flow: the receiver prints nothing before the end, so wait for n1's counters to move.
  await waitFor(
    async () => {
      const rows = JSON.parse((await cli('n1', ['peers', '--json'])).stdout) as { name: string; rxBytes: number }[];
      return (rows.find((r) => r.name === 'n2')?.rxBytes ?? 0) > 5 * 1024 * 1024;
    },
    { what: 'the transfer to be under way', timeoutMs: 20_000, intervalMs: 100 },
  );
  await editConfig('n1', (c) => {
    c.logging = { level: 'debug' };
    c.wireguard.persistentKeepaliveSec = 5;
    c.wireguard.staticPeers = [{ name: 'gw', publicKey: gwKey, allowedIps: [`198.19.${lab.subnetIndex}.200/32`] }];
    c.tun = { ...c.tun, mtu: 1380 };
  });
  const r = await cli('n1', ['reload']);
  assert.ok(!done, 'the transfer was still running when the reload finished (make it larger if this fails)');
  assert.match(r.stdout, /applied live: logging\.level, wireguard\.persistentKeepaliveSec, wireguard\.staticPeers/);
  assert.match(r.stdout, /needs a restart \(still running with the old value\): tun\.mtu/);
  assert.deepEqual(await peerNames('n1'), ['gw', 'n2']);
  await waitFor(
    () =>
      mesh
        .proc('n1')
        .lines()
        .some((l) => l.includes('"level":20') && l.includes('log level changed')),
    {
      what: 'a debug line after the reload',
      timeoutMs: 5000,
    },
  );

  const t = await transfer;
  if (t instanceof Error) throw t;
  assert.equal(t.bytesReceived, t.bytesSent);
  assert.equal(t.receivedSha256, t.sentSha256);
  const s = await mesh.status('n1');
  assert.equal(s.peers.find((p) => p.name === 'n2')?.state, 'alive');
});

test('SIGHUP reloads too; a reload without changes applies nothing', async () => {
  await editConfig('n1', (c) => {
    c.wireguard.staticPeers = [];
  });
  mesh.proc('n1').kill('SIGHUP');
  await waitFor(async () => (await peerNames('n1')).join() === 'n2', {
    what: 'the static peer to go after SIGHUP',
    timeoutMs: 10_000,
    intervalMs: 200,
  });
  assert.ok(mesh.proc('n1').running, 'SIGHUP does not stop the daemon');
  const json = JSON.parse((await cli('n1', ['reload', '--json'])).stdout) as { ok: boolean; applied: string[] };
  assert.equal(json.ok, true);
  assert.deepEqual(json.applied, []);
});

test('an invalid config file is refused with the reason (CLI and SIGHUP), and the node keeps running', async () => {
  await editConfig('n1', (c) => {
    c.wireguard.persistentKeepaliveSec = -1;
  });
  const r = await cli('n1', ['reload'], true);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error: .*n1\.yaml: 1 problem \[CONFIG_INVALID\]/);
  assert.match(r.stderr, /wireguard\.persistentKeepaliveSec/);
  // The daemon itself refuses the file on SIGHUP, says why, and keeps its peers.
  mesh.proc('n1').kill('SIGHUP');
  await waitFor(
    () =>
      mesh
        .proc('n1')
        .lines()
        .some((l) => l.includes('reload refused') && l.includes('persistentKeepaliveSec')),
    {
      what: 'the daemon to log the refused reload',
      timeoutMs: 5000,
    },
  );
  assert.ok(mesh.proc('n1').running);
  await editConfig('n1', (c) => {
    c.wireguard.persistentKeepaliveSec = 0;
  });
  assert.deepEqual(await peerNames('n1'), ['n2']);
});
