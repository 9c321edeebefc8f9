// A WireGuard peer speaking with a given static key (e.g. a node's OLD key, as an attacker who kept it
// would): handshakes with one tunmesh node and sends an ICMP echo request through the tunnel every
// `intervalMs` for `durationMs`, re-handshaking as WireGuard's timers say and, with `rehandshakeMs`, from
// scratch that often. Config comes as JSON in
// IDENTITY_PROBE (keys stay out of argv). Prints one JSON line per event — {"ev":"reply","at":<wall ms>},
// {"ev":"handshake","at":…} — and a final {"done":true,…} summary.
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Secret } from '../../src/base/secret.js';
import { decodeKey, encodeKey } from '../../src/crypto/keys.js';
import { WgDevice } from '../../src/noise/device.js';
import type { WgAction } from '../../src/noise/actions.js';
import { buildEcho, parseEcho } from './wg-icmp.js';

interface Config {
  privateKey: string;
  peerPublicKey: string;
  listen: { host: string; port: number };
  peerEndpoint: { host: string; port: number };
  /** Our overlay address (the identity's) and the peer's. */
  self4: string;
  peer4: string;
  intervalMs: number;
  durationMs: number;
  /** Forget the session and handshake afresh this often (0: never), so fresh initiations are tried too. */
  rehandshakeMs?: number;
}

const cfg = JSON.parse(process.env.IDENTITY_PROBE ?? '{}') as Config;
const priv = decodeKey(cfg.privateKey);
const peerPub = decodeKey(cfg.peerPublicKey);
if (!priv || !peerPub) {
  console.log(JSON.stringify({ done: true, error: 'bad keys' }));
  process.exit(1);
}
const peer = encodeKey(peerPub);
const dev = new WgDevice({
  privateKey: new Secret(priv),
  random: (n) => randomBytes(n),
  wallClockMs: () => Date.now(),
});
dev.addPeer({ publicKey: peerPub, endpoint: cfg.peerEndpoint });
const sent = { initiation: 0, response: 0, transport: 0, cookie_reply: 0 };
let requests = 0;
let replies = 0;
const id = 0x3939;
const sock = createSocket(cfg.listen.host.includes(':') ? 'udp6' : 'udp4');

function run(actions: WgAction[]): void {
  for (const a of actions) {
    if (a.type === 'send') {
      sent[a.message]++;
      sock.send(a.data, a.to.port, a.to.host);
    } else if (a.type === 'handshake') console.log(JSON.stringify({ ev: 'handshake', at: Date.now() }));
    else if (a.type === 'deliver') {
      const e = parseEcho(a.packet);
      if (e?.kind === 'reply' && e.id === id && e.src === cfg.peer4 && e.dst === cfg.self4) {
        replies++;
        console.log(JSON.stringify({ ev: 'reply', at: Date.now(), seq: e.seq }));
      }
    }
  }
}

sock.on('message', (msg, rinfo) => run(dev.receive(msg, { host: rinfo.address, port: rinfo.port }, performance.now())));
sock.bind(cfg.listen.port, cfg.listen.host, () => {
  console.log(JSON.stringify({ ev: 'ready', at: Date.now() }));
  const payload = Uint8Array.from(Buffer.from('tunmesh-identity-probe'));
  const echo = setInterval(() => {
    requests++;
    const packet = buildEcho({ src: cfg.self4, dst: cfg.peer4, kind: 'request', id, seq: requests & 0xffff, payload });
    run(dev.send(peer, packet, performance.now()));
  }, cfg.intervalMs);
  const tick = setInterval(() => run(dev.tick(performance.now())), 100);
  const fresh = cfg.rehandshakeMs
    ? setInterval(() => {
        dev.removePeer(peer);
        dev.addPeer({ publicKey: peerPub, endpoint: cfg.peerEndpoint });
        console.log(JSON.stringify({ ev: 'fresh', at: Date.now() }));
      }, cfg.rehandshakeMs)
    : undefined;
  setTimeout(() => {
    clearInterval(echo);
    clearInterval(tick);
    clearInterval(fresh);
    console.log(JSON.stringify({ done: true, requests, replies, sent }));
    sock.close();
  }, cfg.durationMs);
});
