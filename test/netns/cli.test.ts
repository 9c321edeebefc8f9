// The operator CLI against a running three-node mesh: status and peers --json list every peer with
// overlay addresses, method, endpoint, handshake, traffic and RTT; ping measures round trips through
// the mesh (and fails with a hint for an unknown node); events record the joins.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, waitFor } from '../helpers/netns.js';
import { Mesh, cliPath } from '../helpers/mesh.js';
import { ping } from '../helpers/transfer.js';

let lab: Lab;
let mesh: Mesh;
const nodes = ['n1', 'n2', 'n3'];

before(async () => {
  lab = await Lab.create('tp9c-', { nodes: 3 });
  mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'] },
    patch: (_n, c) => {
      c.membership = { probeIntervalMs: 500, failureTimeoutMs: 5000 };
    },
  });
  for (const n of nodes) mesh.start(n);
  await mesh.waitConverged(nodes, 30_000);
  // Traffic so every pair has a session.
  for (const b of ['n2', 'n3']) await ping(lab, lab.node('n1').ns, mesh.overlay4(b), { count: 1 });
});

after(async () => {
  await mesh?.cleanup();
  await lab?.destroy();
});

function cli(node: string, args: string[], allowFailure = false) {
  return lab.exec(lab.node(node).ns, process.execPath, [cliPath, ...args, '-c', mesh.configFile(node)], {
    allowFailure,
  });
}

interface Row {
  name: string;
  state: string;
  addresses: string[];
  method: string;
  endpoint: string | null;
  lastHandshake: string | null;
  rxBytes: number;
  txBytes: number;
  rttMs: number | null;
}

test('peers --json lists every peer with addresses, method, endpoint, handshake, traffic and RTT', async () => {
  const rows = await waitFor(
    async () => {
      const r = JSON.parse((await cli('n1', ['peers', '--json'])).stdout) as Row[];
      return r.length === 2 && r.every((p) => p.rttMs !== null && p.lastHandshake !== null) ? r : undefined;
    },
    { what: 'n1 peers with RTT', timeoutMs: 15_000, intervalMs: 500 },
  );
  for (const p of rows) {
    assert.ok(['n2', 'n3'].includes(p.name));
    assert.equal(p.state, 'alive');
    assert.equal(p.method, 'wireguard');
    assert.deepEqual(p.addresses, [`${mesh.overlay4(p.name)}/24`, `${mesh.overlay6(p.name)}/64`]);
    assert.equal(p.endpoint, `${lab.node(p.name).ipv4}:${mesh.udpPort}`);
    assert.ok(p.rxBytes > 0 && p.txBytes > 0);
    assert.ok(p.rttMs! > 0 && p.rttMs! < 1000, `rtt ${p.rttMs}`);
  }
});

test('status prints the node and a peers table with RTT', async () => {
  const out = (await cli('n2', ['status'])).stdout;
  assert.match(out, /^node n2 /);
  assert.match(out, /PEER\s+STATE\s+ADDRESSES\s+METHOD\s+ENDPOINT\s+HANDSHAKE\s+RX\s+TX\s+RTT/);
  assert.match(out, /\nn1\s+alive\s+198\.19\./);
  assert.match(out, /\nn3\s+alive\s+198\.19\./);
  const json = JSON.parse((await cli('n2', ['status', '--json'])).stdout) as { peers: Row[] };
  assert.deepEqual(json.peers.map((p) => p.name).sort(), ['n1', 'n3']);
});

test('ping reports RTT through the mesh, by name and by overlay address', async () => {
  const byName = await cli('n3', ['ping', 'n1', '-n', '3']);
  assert.match(byName.stdout, /^PING n1 \(198\.19\.\d+\.1\) through the mesh, method wireguard/);
  assert.match(byName.stdout, /3 sent, 3 received, 0% loss/);
  assert.match(byName.stdout, /rtt min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+ ms/);
  const json = JSON.parse((await cli('n3', ['ping', mesh.overlay4('n2'), '-n', '2', '--json'])).stdout) as {
    node: string;
    received: number;
    rttMs: number[];
  };
  assert.equal(json.node, 'n2');
  assert.equal(json.received, 2);
  assert.ok(json.rttMs.every((ms) => ms > 0 && ms < 1000));
  // By IPv6 address: probed over IPv6 (the demo's v6 ping), not over the peer's first (IPv4) address.
  const v6 = await cli('n3', ['ping', mesh.overlay6('n2'), '-n', '2']);
  assert.match(v6.stdout, new RegExp(`^PING n2 \\(${mesh.overlay6('n2')}\\) through the mesh`));
  assert.match(v6.stdout, /2 sent, 2 received, 0% loss/);
});

test('ping of an unknown node fails and says how to find the names', async () => {
  const r = await cli('n1', ['ping', 'nope'], true);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error: the node does not know a peer nope \[NOT_FOUND\]/);
  assert.match(r.stderr, /hint: `tunmesh peers` lists/);
});

test('ping of a peer whose node is stopped reports loss, and the API without a signature answers 401', async () => {
  mesh.proc('n3').kill('SIGKILL');
  await mesh.proc('n3').waitExit(5000);
  const r = await cli('n1', ['ping', 'n3', '-n', '2', '--timeout', '300'], true);
  assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /2 sent, 0 received, 100% loss/);
  assert.match(r.stderr, /error: no reply from n3 through the mesh \[PEER_UNREACHABLE\]\nhint: /);
  const curl = await lab.exec(
    lab.node('n1').ns,
    'curl',
    ['-sk', '-o', '/dev/null', '-w', '%{http_code}', `${mesh.apiUrl('n1')}/v1/peers`],
    { allowFailure: true },
  );
  assert.equal(curl.stdout, '401');
});
