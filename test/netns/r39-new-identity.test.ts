// R39 / R17: a node restarts with a NEW WireGuard key under the same name (tunmesh's identity is the node
// name; the record with the newer epoch replaces the old one and with it the old key). An attacker who kept
// the OLD key (test/helpers/identity-probe.ts, in a third namespace) streams echo requests to n1 through
// the tunnel the whole time. Before the rotation n1 answers it — the probe is right; once n1 has the new
// record (the revocation), n1 accepts 0 packets under the old key: the old sessions are gone ≤ 1 s after
// and new handshakes with the old key fail. Meanwhile a ping stream n1 → n2 crosses the rotation and the
// new key gets a session (R17's "new session ≤ 1 s" is logged; the live, in-place key swap R17 describes
// does not exist — node.privateKeyFile needs a restart).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeKey, encodeKey, generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import { AttackLab } from '../helpers/attack-lab.js';
import { waitFor } from '../helpers/netns.js';

let t: AttackLab;

before(async () => {
  t = await AttackLab.create('hd39-');
});

after(() => t?.destroy());

/** Wall time of the first `msg` line about `peer` in `node`'s log written after `since`. */
function logged(node: string, msg: string, peer: string, since: number): number | undefined {
  for (const line of t.mesh.proc(node).lines()) {
    if (!line.includes(`"msg":"${msg}"`) || !line.includes(`"peer":"${peer}"`)) continue;
    const at = Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? '');
    if (at >= since) return at;
  }
  return undefined;
}

test('R39: after a restart with a new key, 0 packets under the old key are accepted; R17: the new key gets a session', async () => {
  const { lab, mesh } = t;
  const n1 = lab.node('n1');
  const keyFile = join(mesh.dir, 'n2.key');
  const oldKey = (await readFile(keyFile, 'utf8')).trim();
  const n1Key = (await mesh.status('n1')).node.publicKey;

  // The attacker holding n2's key: 20 s of echo requests every 200 ms, a fresh handshake every 3 s.
  const probe = lab.spawn(lab.node('n3').ns, process.execPath, ['--import', 'tsx', 'test/helpers/identity-probe.ts'], {
    env: {
      IDENTITY_PROBE: JSON.stringify({
        privateKey: oldKey,
        peerPublicKey: n1Key,
        listen: { host: lab.node('n3').ipv4, port: 51999 },
        peerEndpoint: { host: n1.ipv4, port: mesh.udpPort },
        self4: mesh.overlay4('n2'),
        peer4: mesh.overlay4('n1'),
        intervalMs: 200,
        durationMs: 20_000,
        rehandshakeMs: 3000,
      }),
    },
  });
  const events = () =>
    probe
      .lines()
      .filter((l) => l.startsWith('{'))
      .map(
        (l) =>
          JSON.parse(l) as {
            ev?: string;
            at?: number;
            done?: boolean;
            requests?: number;
            replies?: number;
            sent?: { initiation: number };
          },
      );
  await waitFor(() => events().some((e) => e.ev === 'reply'), {
    what: 'the old key to be answered while it is valid (the probe works)',
    timeoutMs: 10_000,
  });

  // R17's stream: n1 pings n2 every 100 ms across the rotation, with timestamps.
  const stream = lab.exec(n1.ns, 'ping', ['-D', '-n', '-i', '0.1', '-c', '150', '-W', '1', mesh.overlay4('n2')], {
    allowFailure: true,
    timeoutMs: 40_000,
  });
  await new Promise((r) => setTimeout(r, 1000));

  const n2 = mesh.proc('n2');
  const restartAt = Date.now();
  n2.kill('SIGKILL');
  await n2.waitExit(5000);
  const newKey = generatePrivateKey();
  await writeFile(keyFile, `${encodeKey(newKey)}\n`, { mode: 0o600 });
  mesh.start('n2');
  // The revocation reaches n1 when it installs n2's new record (new epoch, new key).
  const revokedAt = await waitFor(() => logged('n1', 'peer up', 'n2', restartAt), {
    what: 'n1 to take n2’s new record',
    timeoutMs: 20_000,
    intervalMs: 100,
  });
  assert.notEqual(encodeKey(publicKeyOf(newKey)), encodeKey(publicKeyOf(decodeKey(oldKey)!)));

  await waitFor(() => events().some((e) => e.done), { what: 'the probe to finish', timeoutMs: 40_000 });
  const all = events();
  const replies = all.filter((e) => e.ev === 'reply').map((e) => e.at!);
  const summary = all.find((e) => e.done)!;
  const lateReplies = replies.filter((at) => at > revokedAt);
  const lateHandshakes = all.filter((e) => e.ev === 'handshake' && e.at! > revokedAt).length;
  const lateFresh = all.filter((e) => e.ev === 'fresh' && e.at! > revokedAt).length;
  const lastOld = Math.max(...replies);

  const pingOut = (await stream).stdout;
  const replyTimes = [...pingOut.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]) * 1000);
  const firstNew = replyTimes.find((at) => at > revokedAt);
  console.log(
    `# R39: old key answered ${replies.length}× before, ${lateReplies.length} after the revocation ` +
      `(last ${((lastOld - revokedAt) / 1000).toFixed(2)} s from it; probe sent ${summary.requests} requests, ` +
      `${summary.sent?.initiation} initiations, ${lateFresh} fresh handshakes tried after it, ${lateHandshakes} completed); ` +
      `revocation reached n1 ${((revokedAt - restartAt) / 1000).toFixed(1)} s after the restart`,
  );
  console.log(
    `# R17: n1 → n2 stream: first reply under the new key ${firstNew === undefined ? 'never' : ((firstNew - revokedAt) / 1000).toFixed(2)} s after n1 took the new record`,
  );
  assert.ok(replies.length > 0, 'the old key worked before the rotation');
  assert.equal(lateReplies.length, 0, 'no packet under the old key accepted after the revocation');
  assert.ok(lateFresh >= 2, 'fresh handshakes with the old key were tried after the revocation');
  assert.equal(lateHandshakes, 0, 'no handshake with the old key completes after the revocation');
  assert.ok(firstNew !== undefined, 'the new key gets a session while the stream runs');
  // R17's "new session ≤ 1 s" is a timing figure: asserted on a quiet machine (TUNMESH_PERF=1); npm test
  // bounds it by one handshake retry (REKEY_TIMEOUT 5 s).
  const newSessionMs = firstNew - revokedAt;
  assert.ok(newSessionMs <= (process.env.TUNMESH_PERF === '1' ? 1000 : 5000), `new session after ${newSessionMs} ms`);
  assert.ok(mesh.proc('n1').running, 'n1 alive');
});
