// THE byte-compatibility proof: tunmesh's WgDevice (through test/helpers/wg-probe.ts, which uses only
// WgDevice and node:dgram) against a stock wireguard-go configured with `wg setconf`, in two network
// namespaces joined by a veth pair. Needs root, wireguard-go and wg; skips with a message otherwise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/crypto/keys.js';
import {
  deleteNetns,
  makeVethPair,
  run,
  startWireGuardGo,
  which,
  wgSetconf,
  type WireGuardGo,
} from '../helpers/wg-netns.js';

const nsWg = 'tp1-wg';
const nsMe = 'tp1-me';
const ifname = 'tp1wg0';
const wgUnderlay = '198.18.250.1';
const meUnderlay = '198.18.250.2';
const wgPort = 51820;

const skip =
  process.getuid?.() !== 0
    ? 'needs root (network namespaces)'
    : !which('wireguard-go') || !which('wg')
      ? 'wireguard-go or wg(8) missing: apt-get install -y wireguard-go wireguard-tools'
      : false;
if (skip) console.log(`# wg-interop-handshake skipped: ${skip}`);

const wgKey = generatePrivateKey();
const initiatorKey = generatePrivateKey();
const responderKey = generatePrivateKey();
const loadedKey = generatePrivateKey();
const pub = (k: Uint8Array): string => encodeKey(publicKeyOf(k));

interface ProbeResult {
  ok: boolean;
  handshakes: string[];
  replies: { v4: number; v6: number };
  requests: { v4: number; v6: number };
  drops: string[];
  sent: Record<string, number>;
}

/** Runs the probe in tp1-me; resolves with its result once it printed `ready` and `onReady` finished. */
function runProbe(config: object, onReady?: () => Promise<void>): Promise<{ result: ProbeResult; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ip',
      ['netns', 'exec', nsMe, process.execPath, '--import', 'tsx', 'test/helpers/wg-probe.ts'],
      {
        env: { ...process.env, PROBE_CONFIG: JSON.stringify(config) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    let readySeen = false;
    const killer = setTimeout(() => child.pid !== undefined && child.kill('SIGKILL'), 30_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!readySeen && stdout.includes('"ready":true')) {
        readySeen = true;
        onReady?.().catch((e: unknown) => {
          stderr += `onReady failed: ${String(e)}\n`;
        });
      }
    });
    child.on('error', reject);
    child.on('exit', () => {
      clearTimeout(killer);
      const line = stdout
        .split('\n')
        .filter((l) => l.includes('"ok"'))
        .pop();
      if (line === undefined) reject(new Error(`probe printed no result; stderr: ${stderr}; stdout: ${stdout}`));
      else resolve({ result: JSON.parse(line) as ProbeResult, stderr });
    });
  });
}

describe('wireguard-go interop', { skip }, () => {
  let wg: WireGuardGo | undefined;

  before(async () => {
    makeVethPair(
      { ns: nsWg, dev: 'tp1-wg-v', cidr: `${wgUnderlay}/24` },
      { ns: nsMe, dev: 'tp1-me-v', cidr: `${meUnderlay}/24` },
    );
    wg = await startWireGuardGo(nsWg, ifname);
    wgSetconf(
      nsWg,
      ifname,
      [
        '[Interface]',
        `PrivateKey = ${encodeKey(wgKey)}`,
        `ListenPort = ${wgPort}`,
        '',
        '[Peer]',
        `PublicKey = ${pub(initiatorKey)}`,
        'AllowedIPs = 198.19.250.2/32, fd00:250::2/128',
        '',
        '[Peer]',
        `PublicKey = ${pub(responderKey)}`,
        'AllowedIPs = 198.19.250.3/32, fd00:250::3/128',
        `Endpoint = ${meUnderlay}:51823`,
        '',
        '[Peer]',
        `PublicKey = ${pub(loadedKey)}`,
        'AllowedIPs = 198.19.250.4/32',
        `Endpoint = ${meUnderlay}:51824`,
        '',
      ].join('\n'),
    );
    run('ip', ['-n', nsWg, 'addr', 'add', '198.19.250.1/24', 'dev', ifname]);
    run('ip', ['-n', nsWg, '-6', 'addr', 'add', 'fd00:250::1/64', 'dev', ifname, 'nodad']);
    run('ip', ['-n', nsWg, 'link', 'set', ifname, 'up']);
  });

  after(async () => {
    try {
      await wg?.stop();
    } finally {
      deleteNetns(nsWg);
      deleteNetns(nsMe);
    }
  });

  const initiatorConfig = (families: string[]) => ({
    mode: 'initiate',
    privateKey: encodeKey(initiatorKey),
    peerPublicKey: pub(wgKey),
    listen: { host: meUnderlay, port: 51822 },
    peerEndpoint: { host: wgUnderlay, port: wgPort },
    self4: '198.19.250.2',
    self6: 'fd00:250::2',
    peer4: '198.19.250.1',
    peer6: 'fd00:250::1',
    families,
    timeoutMs: 10_000,
  });

  const dump = (r: ProbeResult, stderr: string): string =>
    `probe: ${JSON.stringify(r)}\nstderr: ${stderr}\nwireguard-go: ${wg?.logs.join('').slice(-3000)}`;

  test('(a) WgDevice initiates; ICMP echo over IPv4 gets its reply from the wireguard-go side', async () => {
    const { result, stderr } = await runProbe(initiatorConfig(['v4']));
    assert.ok(result.ok, dump(result, stderr));
    assert.deepEqual(result.handshakes, ['initiator']);
    assert.equal(result.replies.v4, 1);
    const shown = run('ip', ['netns', 'exec', nsWg, 'wg', 'show', ifname, 'latest-handshakes']);
    assert.match(shown, new RegExp(`${pub(initiatorKey).replace(/[+/]/g, '\\$&')}\\t[1-9]\\d*`));
  });

  test('(b) the same over IPv6 (ICMPv6 echo with pseudo-header checksum)', async () => {
    const { result, stderr } = await runProbe(initiatorConfig(['v6']));
    assert.ok(result.ok, dump(result, stderr));
    assert.deepEqual(result.handshakes, ['initiator']);
    assert.equal(result.replies.v6, 1);
  });

  test('(c) wireguard-go initiates; WgDevice answers as responder, decrypts and replies to pings', async () => {
    const exec = promisify(execFile);
    const pings: { v4?: string; v6?: string } = {};
    const { result, stderr } = await runProbe(
      {
        mode: 'respond',
        privateKey: encodeKey(responderKey),
        peerPublicKey: pub(wgKey),
        listen: { host: meUnderlay, port: 51823 },
        self4: '198.19.250.3',
        self6: 'fd00:250::3',
        peer4: '198.19.250.1',
        peer6: 'fd00:250::1',
        expect: 2,
        timeoutMs: 15_000,
      },
      async () => {
        // Traffic for 198.19.250.3 makes wireguard-go handshake with the probe's configured endpoint.
        const ping = (args: string[]) => exec('ip', ['netns', 'exec', nsWg, 'ping', ...args], { timeout: 12_000 });
        pings.v4 = (await ping(['-c', '2', '-i', '0.3', '-w', '8', '198.19.250.3'])).stdout;
        pings.v6 = (await ping(['-6', '-c', '2', '-i', '0.3', '-w', '8', 'fd00:250::3'])).stdout;
      },
    );
    assert.ok(result.ok, dump(result, stderr));
    assert.deepEqual(result.handshakes, ['responder']);
    assert.equal(result.sent.initiation, 0, 'the probe must not have initiated');
    assert.ok(result.requests.v4 >= 2 && result.requests.v6 >= 2);
    assert.match(pings.v4 ?? '', / 0% packet loss/, `ping v4: ${pings.v4}`);
    assert.match(pings.v6 ?? '', / 0% packet loss/, `ping v6: ${pings.v6}`);
  });

  test('(d) under load, WgDevice answers wireguard-go with a cookie reply; its retry carries a valid mac2', async () => {
    const exec = promisify(execFile);
    let ping = '';
    const { result, stderr } = await runProbe(
      {
        mode: 'respond',
        privateKey: encodeKey(loadedKey),
        peerPublicKey: pub(wgKey),
        listen: { host: meUnderlay, port: 51824 },
        self4: '198.19.250.4',
        self6: 'fd00:250::4',
        peer4: '198.19.250.1',
        peer6: 'fd00:250::1',
        families: ['v4'],
        underLoad: true,
        expect: 1,
        timeoutMs: 20_000,
      },
      async () => {
        // wireguard-go retransmits after rekeyTimeout (5 s + jitter) with mac2 from our cookie.
        ping = (
          await exec('ip', ['netns', 'exec', nsWg, 'ping', '-c', '1', '-w', '15', '198.19.250.4'], { timeout: 17_000 })
        ).stdout;
      },
    );
    assert.ok(result.ok, dump(result, stderr));
    assert.ok((result.sent.cookie_reply ?? 0) >= 1, `a cookie reply was sent: ${JSON.stringify(result)}`);
    assert.ok(result.drops.includes('bad_mac2'), 'the first initiation had no mac2');
    assert.deepEqual(result.handshakes, ['responder']);
    // ping sends one request a second while the handshake waits; the first reply is what counts.
    assert.match(ping, / [1-9]\d* received/, `ping: ${ping}`);
  });
});
