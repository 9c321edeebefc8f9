// Re-records test/vectors/wireguard-go-transcript.json: real handshakes and transport data exchanged with a
// stock wireguard-go (configured with `wg setconf`), in two network namespaces joined by a veth pair.
// Needs root, wireguard-go and wg(8). Run only on purpose:
//   node --import tsx scripts/record-wg-vectors.ts
//
// Every static key and the PSK are fixed. wireguard-go picks its own ephemeral keys, indices and
// timestamps, so those are recorded as it sent them; tunmesh's side draws its index and ephemeral key from a
// scripted random source, which the unit test (test/unit/wg-go-transcript.test.ts) replays. With both
// static keys, the PSK and one side's ephemeral known, the test can re-derive the session and check the
// captured bytes of both engines. Two cases:
//   tunmesh-initiates:      our WgDevice sends an initiation + an ICMP echo request; wireguard-go answers
//                           with its response and (from its kernel) the echo reply.
//   wireguard-go-initiates: `ping` inside wireguard-go's namespace makes it initiate; our WgDevice responds;
//                           wireguard-go then sends the ping as transport data.
// Namespaces carry the hwv- prefix; addresses are 198.18.251.0/24 (underlay) and 198.19.251.0/24 (overlay).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Secret } from '../src/base/secret.js';
import { clamp, encodeKey, publicKeyOf } from '../src/crypto/keys.js';
import { WgDevice } from '../src/noise/device.js';
import type { WgAction } from '../src/noise/actions.js';
import { buildEcho } from '../test/helpers/wg-icmp.js';
import { deleteNetns, makeVethPair, run, startWireGuardGo, wgSetconf } from '../test/helpers/wg-netns.js';

export const transcriptFile = resolve(import.meta.dirname, '../test/vectors/wireguard-go-transcript.json');

const fixed = (label: string): Uint8Array =>
  Uint8Array.from(createHash('sha256').update(`tunmesh-wg-go-vector/${label}`).digest());
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The fixed inputs of both cases (also used by the unit test to rebuild our side). */
export const transcriptInputs = {
  wireguardGoStaticPrivate: clamp(fixed('wireguard-go-static')),
  initiatorStaticPrivate: clamp(fixed('tunmesh-initiator-static')),
  responderStaticPrivate: clamp(fixed('tunmesh-responder-static')),
  presharedKey: fixed('psk'),
  initiatorEphemeralPrivate: clamp(fixed('tunmesh-initiator-ephemeral')),
  responderEphemeralPrivate: clamp(fixed('tunmesh-responder-ephemeral')),
  initiatorIndex: 0x5eed0001,
  responderIndex: 0x5eed0002,
  /** Our initiation's TAI64N timestamp comes from this wall clock. */
  wallClockMs: 1_765_000_000_000,
  echo: { id: 0x7731, seq: 1, payload: 'tunmesh <-> wireguard-go transcript' },
  addresses: {
    wireguardGo: '198.19.251.1',
    initiator: '198.19.251.2',
    responder: '198.19.251.3',
    wireguardGoUnderlay: '198.18.251.1',
    oursUnderlay: '198.18.251.2',
  },
  ports: { wireguardGo: 51820, initiator: 51821, responder: 51822 },
};

const le32 = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);

/** Returns the scripted byte strings in order (their lengths must match the requests), then zeros. */
export function scripted(...chunks: Uint8Array[]): (n: number) => Uint8Array {
  return (n) => {
    const c = chunks.shift();
    if (c === undefined) return new Uint8Array(n);
    if (c.length !== n) throw new Error(`random request order changed: ${n} asked, ${c.length} scripted`);
    return Uint8Array.from(c);
  };
}

/** Our WgDevice for one case, exactly as the recording used it. */
export function ourDevice(role: 'initiator' | 'responder'): WgDevice {
  const i = transcriptInputs;
  const initiator = role === 'initiator';
  const dev = new WgDevice({
    privateKey: new Secret(initiator ? i.initiatorStaticPrivate : i.responderStaticPrivate),
    random: initiator
      ? scripted(le32(i.initiatorIndex), i.initiatorEphemeralPrivate)
      : scripted(le32(i.responderIndex), i.responderEphemeralPrivate),
    wallClockMs: () => i.wallClockMs,
  });
  dev.addPeer({
    publicKey: publicKeyOf(i.wireguardGoStaticPrivate),
    presharedKey: new Secret(i.presharedKey),
    endpoint: initiator ? { host: i.addresses.wireguardGoUnderlay, port: i.ports.wireguardGo } : undefined,
  });
  return dev;
}

export function ourEchoRequest(): Uint8Array {
  const { echo, addresses } = transcriptInputs;
  return buildEcho({
    src: addresses.initiator,
    dst: addresses.wireguardGo,
    kind: 'request',
    id: echo.id,
    seq: echo.seq,
    payload: Uint8Array.from(Buffer.from(echo.payload)),
  });
}

export interface TranscriptMessage {
  /** Who put it on the wire. */
  from: 'tunmesh' | 'wireguard-go';
  type: 'initiation' | 'response' | 'cookie_reply' | 'transport';
  hex: string;
}

export interface Transcript {
  howMade: string;
  wireguardGoVersion: string;
  inputs: Record<string, string | number | object>;
  cases: { name: 'tunmesh-initiates' | 'wireguard-go-initiates'; messages: TranscriptMessage[] }[];
}

const typeName: Record<number, TranscriptMessage['type']> = { 1: 'initiation', 2: 'response', 3: 'cookie_reply' };

/** Child (in our namespace): runs both of our devices on real UDP sockets and prints what crossed the wire. */
async function child(): Promise<void> {
  const i = transcriptInputs;
  const wgPub = encodeKey(publicKeyOf(i.wireguardGoStaticPrivate));
  const log: Record<string, TranscriptMessage[]> = { initiator: [], responder: [] };
  const sides = (['initiator', 'responder'] as const).map((role) => {
    const dev = ourDevice(role);
    const sock = createSocket('udp4');
    const delivered: Uint8Array[] = [];
    const act = (actions: WgAction[]): void => {
      for (const a of actions) {
        if (a.type === 'send') {
          log[role]!.push({ from: 'tunmesh', type: a.message, hex: hex(a.data) });
          sock.send(a.data, a.to.port, a.to.host);
        } else if (a.type === 'deliver') delivered.push(a.packet);
      }
    };
    sock.on('message', (msg) => {
      log[role]!.push({ from: 'wireguard-go', type: typeName[msg[0]!] ?? 'transport', hex: hex(msg) });
      act(
        dev.receive(Uint8Array.from(msg), { host: i.addresses.wireguardGoUnderlay, port: i.ports.wireguardGo }, 1000),
      );
    });
    return { role, dev, sock, delivered, act };
  });
  await Promise.all(
    sides.map((s) => new Promise<void>((r) => s.sock.bind(i.ports[s.role], i.addresses.oursUnderlay, () => r()))),
  );
  console.log('ready');
  const [ini, resp] = sides;
  ini!.act(ini!.dev.send(wgPub, ourEchoRequest(), 1000));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && (ini!.delivered.length === 0 || resp!.delivered.length === 0)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log(JSON.stringify({ result: log, delivered: sides.map((s) => s.delivered.length) }));
  for (const s of sides) s.sock.close();
}

async function record(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  const i = transcriptInputs;
  const nsWg = 'hwv-wg';
  const nsMe = 'hwv-me';
  const ifname = 'hwvwg0';
  const pub = (k: Uint8Array): string => encodeKey(publicKeyOf(k));
  const version = run('wireguard-go', ['--version']).split('\n')[0]!.trim();
  makeVethPair(
    { ns: nsWg, dev: 'hwv-wg-v', cidr: `${i.addresses.wireguardGoUnderlay}/24` },
    { ns: nsMe, dev: 'hwv-me-v', cidr: `${i.addresses.oursUnderlay}/24` },
  );
  const wg = await startWireGuardGo(nsWg, ifname);
  try {
    const psk = Buffer.from(i.presharedKey).toString('base64');
    wgSetconf(
      nsWg,
      ifname,
      [
        '[Interface]',
        `PrivateKey = ${encodeKey(i.wireguardGoStaticPrivate)}`,
        `ListenPort = ${i.ports.wireguardGo}`,
        '',
        '[Peer]',
        `PublicKey = ${pub(i.initiatorStaticPrivate)}`,
        `PresharedKey = ${psk}`,
        `AllowedIPs = ${i.addresses.initiator}/32`,
        '',
        '[Peer]',
        `PublicKey = ${pub(i.responderStaticPrivate)}`,
        `PresharedKey = ${psk}`,
        `AllowedIPs = ${i.addresses.responder}/32`,
        `Endpoint = ${i.addresses.oursUnderlay}:${i.ports.responder}`,
        '',
      ].join('\n'),
    );
    run('ip', ['-n', nsWg, 'addr', 'add', `${i.addresses.wireguardGo}/24`, 'dev', ifname]);
    run('ip', ['-n', nsWg, 'link', 'set', ifname, 'up']);
    const out = await new Promise<string>((resolveOut, reject) => {
      const c = spawn(
        'ip',
        ['netns', 'exec', nsMe, process.execPath, '--import', 'tsx', import.meta.filename, '--child'],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let stdout = '';
      let pinged = false;
      c.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('ready\n') && !pinged) {
          pinged = true;
          // wireguard-go initiates to our responder when its kernel has a packet for 198.19.251.3.
          spawn('ip', ['netns', 'exec', nsWg, 'ping', '-c', '1', '-W', '5', '-p', '746d', i.addresses.responder], {
            stdio: 'ignore',
          });
        }
      });
      c.on('error', reject);
      c.on('exit', () => resolveOut(stdout));
    });
    const line = out.split('\n').find((l) => l.startsWith('{"result"'));
    if (line === undefined) throw new Error(`child printed no result: ${out}`);
    const parsed = JSON.parse(line) as { result: Record<string, TranscriptMessage[]>; delivered: number[] };
    if (parsed.delivered.some((n) => n === 0)) throw new Error(`a case delivered nothing: ${line}`);
    const transcript: Transcript = {
      howMade:
        'Recorded by scripts/record-wg-vectors.ts from a stock wireguard-go (configured with wg setconf) in a ' +
        'network namespace, over a veth pair, with the fixed static keys and PSK below. wireguard-go chose its own ' +
        'ephemeral keys, indices and timestamps; our side used the scripted index and ephemeral key below. The ' +
        'bytes are what crossed the wire, in order. Not generated by tunmesh: a known answer from outside.',
      wireguardGoVersion: version,
      inputs: {
        wireguardGoStaticPrivate: hex(i.wireguardGoStaticPrivate),
        wireguardGoStaticPublic: hex(publicKeyOf(i.wireguardGoStaticPrivate)),
        initiatorStaticPrivate: hex(i.initiatorStaticPrivate),
        responderStaticPrivate: hex(i.responderStaticPrivate),
        presharedKey: hex(i.presharedKey),
        initiatorEphemeralPrivate: hex(i.initiatorEphemeralPrivate),
        responderEphemeralPrivate: hex(i.responderEphemeralPrivate),
        initiatorIndex: i.initiatorIndex,
        responderIndex: i.responderIndex,
        wallClockMs: i.wallClockMs,
        echo: i.echo,
        addresses: i.addresses,
      },
      cases: [
        { name: 'tunmesh-initiates', messages: parsed.result.initiator! },
        { name: 'wireguard-go-initiates', messages: parsed.result.responder! },
      ],
    };
    writeFileSync(transcriptFile, `${JSON.stringify(transcript, null, 2)}\n`);
    console.log(`wrote ${transcriptFile}`);
  } finally {
    await wg.stop();
    deleteNetns(nsWg);
    deleteNetns(nsMe);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  await (process.argv.includes('--child') ? child() : record());
}
