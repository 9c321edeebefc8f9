// The tunmesh side of the wireguard-go interop test: a WgDevice and a node:dgram socket, nothing else.
// Configuration comes as JSON in the PROBE_CONFIG environment variable (keys stay out of argv).
// Prints one JSON result line and exits 0 on success, 1 on failure or timeout.
//   mode "initiate": handshake to wireguard-go, send one ICMP and one ICMPv6 echo request, wait for replies.
//   mode "respond":  wait for wireguard-go to handshake, answer echo requests until `expect` of each family.
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Secret } from '../../src/base/secret.js';
import { decodeKey, encodeKey } from '../../src/crypto/keys.js';
import { WgDevice } from '../../src/noise/device.js';
import type { WgAction } from '../../src/noise/actions.js';
import { buildEcho, parseEcho } from './wg-icmp.js';

interface ProbeConfig {
  mode: 'initiate' | 'respond';
  privateKey: string;
  peerPublicKey: string;
  listen: { host: string; port: number };
  peerEndpoint?: { host: string; port: number };
  self4: string;
  self6: string;
  peer4: string;
  peer6: string;
  /** Address families to exercise (default both). */
  families?: ('v4' | 'v6')[];
  /** Pretend to be under load: every handshake message must carry a valid mac2 (cookie) first. */
  underLoad?: boolean;
  /** respond mode: echo requests to answer per family before finishing. */
  expect?: number;
  timeoutMs: number;
}

const cfg = JSON.parse(process.env.PROBE_CONFIG ?? '{}') as ProbeConfig;
const priv = decodeKey(cfg.privateKey);
const peerPub = decodeKey(cfg.peerPublicKey);
if (!priv || !peerPub) {
  console.log(JSON.stringify({ ok: false, error: 'bad keys' }));
  process.exit(1);
}
const peer = encodeKey(peerPub);
const dev = new WgDevice({
  privateKey: new Secret(priv),
  random: (n) => randomBytes(n),
  wallClockMs: () => Date.now(),
  underLoad: () => cfg.underLoad === true,
});
dev.addPeer({ publicKey: peerPub, endpoint: cfg.peerEndpoint });

const result = {
  ok: false,
  mode: cfg.mode,
  handshakes: [] as string[],
  replies: { v4: 0, v6: 0 },
  requests: { v4: 0, v6: 0 },
  drops: [] as string[],
  sent: { initiation: 0, response: 0, transport: 0, cookie_reply: 0 },
  received: 0,
};
const sock = createSocket('udp4');
const id = 0x7431;
const families = cfg.families ?? ['v4', 'v6'];
const payload = Uint8Array.from(Buffer.from('tunmesh-interop-probe'));

function finish(ok: boolean): void {
  result.ok = ok;
  console.log(JSON.stringify(result));
  sock.close();
  process.exit(ok ? 0 : 1);
}

function run(actions: WgAction[]): void {
  for (const a of actions) {
    switch (a.type) {
      case 'send':
        result.sent[a.message]++;
        sock.send(a.data, a.to.port, a.to.host);
        break;
      case 'handshake':
        result.handshakes.push(a.role);
        break;
      case 'drop':
        result.drops.push(a.reason);
        break;
      case 'deliver':
        onPacket(a.packet);
        break;
      default:
        break;
    }
  }
}

function onPacket(packet: Uint8Array): void {
  const e = parseEcho(packet);
  if (e === undefined) return;
  const fam = e.src.includes(':') ? 'v6' : 'v4';
  if (cfg.mode === 'initiate') {
    const want = fam === 'v4' ? { src: cfg.peer4, dst: cfg.self4 } : { src: cfg.peer6, dst: cfg.self6 };
    if (e.kind === 'reply' && e.id === id && e.src === want.src && e.dst === want.dst) result.replies[fam]++;
    if (families.every((f) => result.replies[f] > 0)) finish(true);
    return;
  }
  if (e.kind !== 'request') return;
  result.requests[fam]++;
  run(dev.send(peer, buildEcho({ ...e, src: e.dst, dst: e.src, kind: 'reply' }), performance.now()));
  const n = cfg.expect ?? 1;
  if (families.every((f) => result.requests[f] >= n)) setTimeout(() => finish(true), 200);
}

sock.on('message', (msg, rinfo) => {
  result.received++;
  run(dev.receive(msg, { host: rinfo.address, port: rinfo.port }, performance.now()));
});
sock.bind(cfg.listen.port, cfg.listen.host, () => {
  console.log(JSON.stringify({ ready: true }));
  if (cfg.mode === 'initiate') {
    const now = performance.now();
    if (families.includes('v4')) {
      run(dev.send(peer, buildEcho({ src: cfg.self4, dst: cfg.peer4, kind: 'request', id, seq: 1, payload }), now));
    }
    if (families.includes('v6')) {
      run(dev.send(peer, buildEcho({ src: cfg.self6, dst: cfg.peer6, kind: 'request', id, seq: 2, payload }), now));
    }
  }
});
setInterval(() => run(dev.tick(performance.now())), 100).unref();
setTimeout(() => finish(false), cfg.timeoutMs).unref();
