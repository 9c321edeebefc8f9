// R17: static-key rotation while streaming, LIVE (no restart). n1 pings n2 every 50 ms and sends it a
// paced, sha256-checked TCP stream while `tunmesh keys rotate` swaps n2's key in the running daemon (same
// process). The row's figure: the first ping reply under the new key ≤ 1 s after the rotate command
// returns (n2 holds no session under the old key once it has returned, so every later reply is under the
// new one; the figure from the swap itself, read from n2's log, is printed and asserted too). An attacker
// in a fourth namespace holding n2's OLD key (test/helpers/identity-probe.ts) talks to n3 the whole time
// (not to n1: a valid stolen key also moves n1's endpoint for n2 to the attacker, which would cut the
// stream being measured): answered before, 0 packets accepted and 0 handshakes completed once n3
// installed n2's new record. A restart afterwards comes up with the key the command wrote (mode 0600).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { decodeKey, encodeKey, publicKeyOf } from '../../src/crypto/keys.js';
import { cliPath, Mesh } from '../helpers/mesh.js';
import { Lab, waitFor } from '../helpers/netns.js';
import { tcpTransfer } from '../helpers/transfer.js';

let t: { lab: Lab; mesh: Mesh } | undefined;

before(async () => {
  const lab = await Lab.create('r17-', { nodes: 4 });
  t = { lab, mesh: undefined as unknown as Mesh };
  t.mesh = await Mesh.create(lab, {
    bootstrap: { n2: ['n1'], n3: ['n1'] },
    // The rotation needs the node's operator token (the cluster secret alone would let any node do it).
    patch: (_node, config) => {
      const dir = dirname(String(config.cluster!.secretFile));
      const file = join(dir, 'operator.token');
      writeFileSync(file, `${'r17-operator-token-'.padEnd(40, 'x')}\n`, { mode: 0o600 });
      config.control = { ...config.control, operatorTokenFile: file };
    },
  });
  for (const n of ['n1', 'n2', 'n3']) t.mesh.start(n);
  await t.mesh.waitConverged(['n1', 'n2', 'n3']);
});

after(async () => {
  await t?.mesh?.cleanup();
  await t?.lab.destroy();
});

/** Wall time of the first `msg` line (about `peer`, when given) in `node`'s log written after `since`. */
function logged(node: string, msg: string, since: number, peer?: string): number | undefined {
  for (const line of t!.mesh.proc(node).lines()) {
    if (!line.includes(`"msg":"${msg}"`) || (peer !== undefined && !line.includes(`"peer":"${peer}"`))) continue;
    const at = Date.parse(/"time":"([^"]+)"/.exec(line)?.[1] ?? '');
    if (at >= since) return at;
  }
  return undefined;
}

interface ProbeEvent {
  ev?: string;
  at?: number;
  done?: boolean;
  requests?: number;
  replies?: number;
  sent?: { initiation: number };
}

test('R17: live key rotation while streaming — new session ≤ 1 s, old key refused, same process, restart keeps it', async () => {
  const { lab, mesh } = t!;
  const n1 = lab.node('n1');
  const n3 = lab.node('n3');
  const n2 = lab.node('n2');
  const keyFile = join(mesh.dir, 'n2.key');
  const oldKey = (await readFile(keyFile, 'utf8')).trim();
  const oldPublic = encodeKey(publicKeyOf(decodeKey(oldKey)!));
  const n3Key = (await mesh.status('n3')).node.publicKey;
  const n2Proc = mesh.proc('n2');
  assert.equal((await mesh.status('n2')).node.publicKey, oldPublic);

  // A wrong operator token is refused before anything is written: same key file, same running key.
  const wrongToken = join(mesh.dir, 'wrong.token');
  await writeFile(wrongToken, `${'not-the-operator-token-'.padEnd(40, 'y')}\n`, { mode: 0o600 });
  const wrongConfig = join(mesh.dir, 'n2-wrong-token.yaml');
  const n2Yaml = await readFile(mesh.configFile('n2'), 'utf8');
  await writeFile(wrongConfig, n2Yaml.replace(/operatorTokenFile: .*/, `operatorTokenFile: ${wrongToken}`));
  const refused = await lab.exec(n2.ns, process.execPath, [cliPath, 'keys', 'rotate', '-c', wrongConfig], {
    allowFailure: true,
  });
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /\[AUTH_FAILED\]/);
  assert.match(refused.stderr, /nothing was written/);
  assert.equal((await readFile(keyFile, 'utf8')).trim(), oldKey, 'key file untouched');
  assert.equal((await mesh.status('n2')).node.publicKey, oldPublic);

  // The attacker holding n2's current (soon old) key, to n3: echo requests every 100 ms, a fresh handshake every 2 s.
  const probe = lab.spawn(lab.node('n4').ns, process.execPath, ['--import', 'tsx', 'test/helpers/identity-probe.ts'], {
    env: {
      IDENTITY_PROBE: JSON.stringify({
        privateKey: oldKey,
        peerPublicKey: n3Key,
        listen: { host: lab.node('n4').ipv4, port: 51999 },
        peerEndpoint: { host: n3.ipv4, port: mesh.udpPort },
        self4: mesh.overlay4('n2'),
        peer4: mesh.overlay4('n3'),
        intervalMs: 100,
        durationMs: 14_000,
        rehandshakeMs: 2000,
      }),
    },
  });
  const events = (): ProbeEvent[] =>
    probe
      .lines()
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ProbeEvent);
  await waitFor(() => events().some((e) => e.ev === 'reply'), {
    what: 'the old key to be answered while it is valid (the probe works)',
    timeoutMs: 10_000,
  });

  // The streams across the rotation: pings every 50 ms and 24 MB of TCP paced over ≥ 8 s.
  const stream = lab.exec(n1.ns, 'ping', ['-D', '-n', '-i', '0.05', '-c', '200', '-W', '1', mesh.overlay4('n2')], {
    allowFailure: true,
    timeoutMs: 30_000,
  });
  const transfer = tcpTransfer(lab, n1.ns, n2.ns, mesh.overlay4('n2'), 24 << 20, { minSeconds: 8, timeoutMs: 40_000 });
  await new Promise((r) => setTimeout(r, 2500));

  const rotateStart = Date.now();
  const rotated = await lab.exec(n2.ns, process.execPath, [
    cliPath,
    'keys',
    'rotate',
    '--json',
    '-c',
    mesh.configFile('n2'),
  ]);
  const rotateReturned = Date.now();
  const reply = JSON.parse(rotated.stdout) as { ok: boolean; publicKey: string; previousPublicKey: string };
  assert.equal(reply.ok, true, rotated.stdout);
  assert.equal(reply.previousPublicKey, oldPublic);
  assert.ok(!rotated.stdout.includes(oldKey) && !rotated.stderr.includes(oldKey), 'no private key printed');

  // The key file holds the new key, 0600, and the daemon announced exactly its public key.
  const newKey = (await readFile(keyFile, 'utf8')).trim();
  assert.equal(encodeKey(publicKeyOf(decodeKey(newKey)!)), reply.publicKey);
  assert.equal((await stat(keyFile)).mode & 0o777, 0o600);

  const swappedAt = await waitFor(() => logged('n2', 'node key rotated live', rotateStart), {
    what: 'n2 to log the swap',
    timeoutMs: 5000,
    intervalMs: 50,
  });
  const revokedAt = await waitFor(() => logged('n3', 'peer key changed', rotateStart, 'n2'), {
    what: 'n3 to install n2’s new record (the revocation of the old key)',
    timeoutMs: 10_000,
    intervalMs: 50,
  });
  const n1HasIt = await waitFor(() => logged('n1', 'peer key changed', rotateStart, 'n2'), {
    what: 'n1 to install n2’s new record',
    timeoutMs: 10_000,
    intervalMs: 50,
  });
  assert.ok(n2Proc.running, 'n2 still runs: the same process');
  assert.equal(mesh.proc('n2').pid, n2Proc.pid, 'no restart');

  const got = await transfer;
  const pingOut = (await stream).stdout;
  await waitFor(() => events().some((e) => e.done), { what: 'the probe to finish', timeoutMs: 30_000 });

  if (process.env.R17_DEBUG) console.log(pingOut, { rotateStart, rotateReturned, swappedAt, revokedAt });
  const replyTimes = [...pingOut.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]) * 1000);
  const lastOld = Math.max(...replyTimes.filter((at) => at < swappedAt));
  const firstAfterReturn = replyTimes.find((at) => at > rotateReturned);
  const firstAfterSwap = replyTimes.find((at) => at > swappedAt);
  const all = events();
  const probeReplies = all.filter((e) => e.ev === 'reply').map((e) => e.at!);
  const lateReplies = probeReplies.filter((at) => at > revokedAt).length;
  const lateHandshakes = all.filter((e) => e.ev === 'handshake' && e.at! > revokedAt).length;
  const lateFresh = all.filter((e) => e.ev === 'fresh' && e.at! > revokedAt).length;
  const fmt = (ms: number | undefined) => (ms === undefined ? 'never' : `${Math.round(ms)} ms`);
  console.log(
    `# R17 live: rotate command ${rotateReturned - rotateStart} ms; swap→n1 has the record ${n1HasIt - swappedAt} ms, →n3 ${revokedAt - swappedAt} ms; ` +
      `first ping reply under the new key ${fmt(firstAfterReturn && firstAfterReturn - rotateReturned)} after the command returned, ` +
      `${fmt(firstAfterSwap && firstAfterSwap - swappedAt)} after the swap (ping gap ${fmt(firstAfterSwap && firstAfterSwap - lastOld)}); ` +
      `${replyTimes.length}/200 replies; TCP ${(got.bytesReceived / 2 ** 20).toFixed(0)} MB in ${got.seconds.toFixed(1)} s intact=${got.sentSha256 === got.receivedSha256}`,
  );
  console.log(
    `# R17 old key: answered ${probeReplies.length}× before, ${lateReplies} after n3 revoked it; ` +
      `${lateFresh} fresh handshakes tried after, ${lateHandshakes} completed (probe sent ${all.find((e) => e.done)?.sent?.initiation} initiations)`,
  );

  assert.ok(firstAfterReturn !== undefined && firstAfterSwap !== undefined, 'the stream resumed under the new key');
  // The row's figure: at most one of the 200 pings (50 ms apart, 1 s reply timeout) lost across the swap.
  assert.ok(replyTimes.length >= 199, `${replyTimes.length}/200 pings answered across the rotation`);
  assert.ok(
    firstAfterReturn - rotateReturned <= 1000,
    `first new reply ${firstAfterReturn - rotateReturned} ms after the command`,
  );
  assert.ok(firstAfterSwap - swappedAt <= 1000, `first new reply ${firstAfterSwap - swappedAt} ms after the swap`);
  assert.equal(got.receivedSha256, got.sentSha256, 'the TCP stream crossed the rotation intact');
  assert.equal(got.bytesReceived, 24 << 20);
  assert.ok(probeReplies.length > 0, 'the old key worked before the rotation');
  assert.equal(lateReplies, 0, 'no packet under the old key accepted after the revocation');
  assert.ok(lateFresh >= 2, 'fresh handshakes with the old key were tried after the revocation');
  assert.equal(lateHandshakes, 0, 'no handshake with the old key completes after the revocation');

  for (const n of ['n1', 'n2', 'n3'])
    assert.ok(
      !mesh.proc(n).log().includes(newKey) && !mesh.proc(n).log().includes(oldKey),
      `no private key in ${n}'s log`,
    );

  // n1 shows the new key; n2's own status too.
  const s1 = await mesh.status('n1');
  const row = s1.peers.find((p) => p.name === 'n2') as { publicKey?: string; state?: string } | undefined;
  assert.equal(row?.publicKey, reply.publicKey, 'n1 shows n2’s new public key');
  assert.equal(row?.state, 'alive');
  assert.equal((await mesh.status('n2')).node.publicKey, reply.publicKey);

  // A restart comes up with the key the command wrote.
  n2Proc.kill('SIGTERM');
  await n2Proc.waitExit(10_000);
  mesh.start('n2');
  await mesh.waitConverged(['n1', 'n2', 'n3']);
  assert.equal((await mesh.status('n2')).node.publicKey, reply.publicKey, 'the restart uses the written key');
  assert.ok(mesh.proc('n1').running && mesh.proc('n3').running, 'n1 and n3 alive');
});
