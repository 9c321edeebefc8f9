// Attack traffic for the R20–R22 netns tests; runs inside a namespace:
//   node --import tsx test/helpers/impair-flood.ts MODE HOST PORT COUNT RATE SEED [PUBKEY] [SOURCES]
// MODE random: datagrams of 0..1500 random bytes; badmac1: 148-byte initiations with a random body and
// a wrong mac1; mac1: initiations with a VALID mac1 for PUBKEY (an attacker who knows our public key)
// from every address in SOURCES (comma list, bound locally) × 10 ports. Paced to RATE per second,
// COUNT in total. Prints one JSON line: {sent, replies, replyBytes, seconds, firstReplyMs, checked, valid}:
// firstReplyMs is when the first answer came (ms after the first send); the first 200 cookie replies are
// opened with the cookie key of PUBKEY and the mac1 of the initiation they answer (checked/valid).
import { xopen } from '../../src/crypto/aead.js';
import { cookieKey } from '../../src/noise/cookie.js';
import { decodeCookieReply } from '../../src/wire/wireguard.js';
import dgram from 'node:dgram';
import { mac } from '../../src/crypto/hash.js';
import { mac1Key } from '../../src/noise/cookie.js';
import { initiationLayout } from '../../src/wire/wireguard.js';
import { Rng } from '../fuzz/engine.js';

const [mode, host, portS, countS, rateS, seedS, pubB64, sourcesS] = process.argv.slice(2);
const port = Number(portS);
const count = Number(countS);
const rate = Number(rateS);
const rng = new Rng(Number(seedS ?? 1));
const key = pubB64 ? mac1Key(Buffer.from(pubB64, 'base64')) : undefined;

function datagram(): Uint8Array {
  if (mode === 'random') return rng.bytes(rng.below(1501));
  const m = rng.bytes(148);
  m[0] = 1;
  m[1] = m[2] = m[3] = 0;
  if (mode === 'mac1') {
    m.set(mac(key!, m.subarray(0, initiationLayout.mac1)), initiationLayout.mac1);
    m.fill(0, initiationLayout.mac2);
  }
  return m;
}

const sources = mode === 'mac1' && sourcesS ? sourcesS.split(',') : [undefined];
const sockets: dgram.Socket[] = [];
let replies = 0;
let replyBytes = 0;
let firstReplyMs: number | undefined;
let checked = 0;
let valid = 0;
const sealKey = pubB64 ? cookieKey(Buffer.from(pubB64, 'base64')) : undefined;
/** mac1 of each pooled initiation by its sender index (the receiver field of a cookie reply). */
const mac1BySender = new Map<number, Uint8Array>();
function check(msg: Buffer): void {
  const r = decodeCookieReply(msg);
  const m1 = r.ok ? mac1BySender.get(r.msg.receiver) : undefined;
  checked++;
  if (r.ok && m1 && sealKey && xopen(sealKey, r.msg.nonce, r.msg.cookie, m1) !== undefined) valid++;
}
for (const src of sources) {
  for (let k = 0; k < (src ? 10 : 1); k++) {
    const s = dgram.createSocket(host!.includes(':') ? 'udp6' : 'udp4');
    s.on('message', (msg) => {
      firstReplyMs ??= performance.now() - started;
      replies++;
      replyBytes += msg.length;
      if (mode === 'mac1' && checked < 200) check(msg);
    });
    s.on('error', () => undefined);
    await new Promise<void>((res) => s.bind(0, src, res));
    sockets.push(s);
  }
}
// A pool of prebuilt datagrams keeps the sender cheap (the machine has 2 cores; the attacker must not
// starve the victim of CPU by itself more than necessary).
const pool = Array.from({ length: Math.min(count, 4096) }, datagram);
for (const m of pool)
  if (mode === 'mac1')
    mac1BySender.set(
      new DataView(m.buffer, m.byteOffset).getUint32(4, true),
      m.slice(initiationLayout.mac1, initiationLayout.mac2),
    );
const started = performance.now();
const sliceMs = 2;
const perSlice = Math.max(1, Math.round((rate * sliceMs) / 1000));
let sent = 0;
while (sent < count) {
  const sliceStart = performance.now();
  for (let i = 0; i < perSlice && sent < count; i++, sent++) {
    sockets[sent % sockets.length]!.send(pool[sent % pool.length]!, port, host);
  }
  const due = started + (sent / rate) * 1000;
  const wait = Math.max(0, due - performance.now(), sliceStart + 1 - performance.now());
  await new Promise((r) => setTimeout(r, wait));
}
const seconds = (performance.now() - started) / 1000;
await new Promise((r) => setTimeout(r, 1000));
for (const s of sockets) s.close();
const { user, system } = process.cpuUsage();
const cpuSeconds = (user + system) / 1e6;
console.log(JSON.stringify({ sent, replies, replyBytes, seconds, firstReplyMs, checked, valid, cpuSeconds }));
