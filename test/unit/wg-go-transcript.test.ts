// Known answers from outside: test/vectors/wireguard-go-transcript.json holds handshakes and transport data
// exchanged with a stock wireguard-go (recorded by scripts/record-wg-vectors.ts; see its "howMade"). The
// static keys, the PSK and our side's ephemeral key and index are fixed, so both engines can be checked
// against wireguard-go's bytes without root: the TypeScript WgDevice must put exactly the recorded bytes on
// the wire, accept wireguard-go's messages and open its transport data to the recorded ICMP; the native
// fast path must seal the same plaintexts to exactly the bytes wireguard-go sent and accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Secret } from '../../src/base/secret.js';
import { open } from '../../src/crypto/aead.js';
import { publicKeyOf } from '../../src/crypto/keys.js';
import { CookieChecker } from '../../src/noise/cookie.js';
import { consumeInitiation, HandshakeState } from '../../src/noise/handshake.js';
import { WgDevice } from '../../src/noise/device.js';
import { decodeInitiation } from '../../src/wire/wireguard.js';
import { loadFastPath } from '../../src/dataplane/native-addon.js';
import { buildEcho, parseEcho } from '../helpers/wg-icmp.js';
import { ofType, sends } from '../helpers/wg-pair.js';

interface Message {
  from: 'tunmesh' | 'wireguard-go';
  type: string;
  hex: string;
}
const t = JSON.parse(readFileSync(new URL('../vectors/wireguard-go-transcript.json', import.meta.url), 'utf8')) as {
  wireguardGoVersion: string;
  inputs: {
    wireguardGoStaticPublic: string;
    initiatorStaticPrivate: string;
    responderStaticPrivate: string;
    presharedKey: string;
    initiatorEphemeralPrivate: string;
    responderEphemeralPrivate: string;
    initiatorIndex: number;
    responderIndex: number;
    wallClockMs: number;
    echo: { id: number; seq: number; payload: string };
    addresses: { wireguardGo: string; initiator: string; responder: string; wireguardGoUnderlay: string };
  };
  cases: { name: string; messages: Message[] }[];
};
const i = t.inputs;
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const le32 = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);
const wgPub = bytes(i.wireguardGoStaticPublic);
const wgEndpoint = { host: i.addresses.wireguardGoUnderlay, port: 51820 };
const fast = loadFastPath();
const skipNative = fast === undefined && 'native addon without the fast path (run npm install)';

function messages(name: string): Message[] {
  const c = t.cases.find((x) => x.name === name);
  assert.ok(c, name);
  return c.messages;
}
function one(ms: Message[], from: Message['from'], type: string): Uint8Array {
  const m = ms.filter((x) => x.from === from && x.type === type);
  assert.equal(m.length, 1, `${from} ${type}`);
  return bytes(m[0]!.hex);
}

/** Our device as recorded: the scripted index and ephemeral key, then zeros. */
function ours(role: 'initiator' | 'responder'): WgDevice {
  const chunks =
    role === 'initiator'
      ? [le32(i.initiatorIndex), bytes(i.initiatorEphemeralPrivate)]
      : [le32(i.responderIndex), bytes(i.responderEphemeralPrivate)];
  const dev = new WgDevice({
    privateKey: new Secret(bytes(role === 'initiator' ? i.initiatorStaticPrivate : i.responderStaticPrivate)),
    random: (n) => {
      const c = chunks.shift();
      if (c === undefined) return new Uint8Array(n);
      assert.equal(c.length, n, 'random request order changed');
      return Uint8Array.from(c);
    },
    wallClockMs: () => i.wallClockMs,
  });
  dev.addPeer({
    publicKey: wgPub,
    presharedKey: new Secret(bytes(i.presharedKey)),
    endpoint: role === 'initiator' ? wgEndpoint : undefined,
  });
  return dev;
}

const echoRequest = (): Uint8Array =>
  buildEcho({
    src: i.addresses.initiator,
    dst: i.addresses.wireguardGo,
    kind: 'request',
    id: i.echo.id,
    seq: i.echo.seq,
    payload: Uint8Array.from(Buffer.from(i.echo.payload)),
  });

/** Runs our initiator through the recorded exchange; returns its session keys and what it delivered. */
function initiatorRun() {
  const ms = messages('tunmesh-initiates');
  const dev = ours('initiator');
  const out1 = dev.send(Buffer.from(wgPub).toString('base64'), echoRequest(), 1000);
  const initiation = sends(out1)[0]!.data;
  const out2 = dev.receive(one(ms, 'wireguard-go', 'response'), wgEndpoint, 1000);
  const out3 = dev.receive(one(ms, 'wireguard-go', 'transport'), wgEndpoint, 1000);
  return { ms, initiation, out2, out3, keypair: ofType(out2, 'keypair')[0]?.keypair };
}

test(`wireguard-go transcript (${t.wireguardGoVersion}): our initiation is byte for byte the one wireguard-go accepted`, () => {
  const r = initiatorRun();
  assert.equal(hex(r.initiation), hex(one(r.ms, 'tunmesh', 'initiation')));
});

test("wireguard-go transcript: wireguard-go's response has a valid mac1, completes our handshake, and our first data packet is the one it answered", () => {
  const r = initiatorRun();
  const response = one(r.ms, 'wireguard-go', 'response');
  const initiatorPub = publicKeyOf(bytes(i.initiatorStaticPrivate));
  assert.ok(new CookieChecker(initiatorPub, 120_000).checkMac1(response), 'mac1 under our public key');
  assert.deepEqual(
    r.out2.filter((x) => x.type === 'drop'),
    [],
  );
  assert.equal(ofType(r.out2, 'handshake')[0]?.role, 'initiator');
  assert.equal(r.keypair?.remoteIndex, new DataView(response.buffer).getUint32(4, true), "wireguard-go's index");
  assert.equal(hex(sends(r.out2)[0]!.data), hex(one(r.ms, 'tunmesh', 'transport')));
});

test("wireguard-go transcript: its transport data opens to the kernel's echo reply to our request", () => {
  const r = initiatorRun();
  const delivered = ofType(r.out3, 'deliver');
  assert.equal(delivered.length, 1, JSON.stringify(r.out3.filter((x) => x.type === 'drop')));
  const e = parseEcho(delivered[0]!.packet);
  assert.ok(e);
  assert.deepEqual(
    { ...e, payload: Buffer.from(e.payload).toString() },
    {
      src: i.addresses.wireguardGo,
      dst: i.addresses.initiator,
      kind: 'reply',
      id: i.echo.id,
      seq: i.echo.seq,
      payload: i.echo.payload,
    },
  );
});

test('wireguard-go transcript: wireguard-go as initiator — mac1, static key and timestamp decrypt as it sent them', () => {
  const init = one(messages('wireguard-go-initiates'), 'wireguard-go', 'initiation');
  const R = { privateKey: bytes(i.responderStaticPrivate), publicKey: publicKeyOf(bytes(i.responderStaticPrivate)) };
  assert.ok(new CookieChecker(R.publicKey, 120_000).checkMac1(init), 'mac1 under our public key');
  const d = decodeInitiation(init);
  assert.ok(d.ok);
  const hs = new HandshakeState(R, wgPub, bytes(i.presharedKey));
  const r = consumeInitiation(R, d.msg, (pk) => (hex(pk) === hex(wgPub) ? hs : undefined), {
    now: 0,
    initiationRateMs: 50,
    rekeyTimeoutMs: 5000,
  });
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.equal(hex(r.remoteStatic), hex(wgPub), "the static field decrypts to wireguard-go's public key");
  // TAI64N: 2^62 + Unix seconds; the recording was made after 2025 and long before 2100.
  const seconds = new DataView(r.timestamp.buffer, r.timestamp.byteOffset).getBigUint64(0) - 2n ** 62n;
  assert.ok(seconds > 1_735_000_000n && seconds < 4_102_444_800n, `timestamp ${seconds}`);
});

test("wireguard-go transcript: our responder answers wireguard-go's initiation with the recorded response and opens its ping", () => {
  const ms = messages('wireguard-go-initiates');
  const dev = ours('responder');
  const out1 = dev.receive(one(ms, 'wireguard-go', 'initiation'), wgEndpoint, 1000);
  assert.equal(hex(sends(out1)[0]!.data), hex(one(ms, 'tunmesh', 'response')));
  const out2 = dev.receive(one(ms, 'wireguard-go', 'transport'), wgEndpoint, 1000);
  const e = parseEcho(ofType(out2, 'deliver')[0]!.packet);
  assert.ok(e);
  assert.equal(e.kind, 'request');
  assert.equal(e.src, i.addresses.wireguardGo);
  assert.equal(e.dst, i.addresses.responder);
  // ping -p 746d fills the payload after its timestamp with "tm".
  assert.ok(Buffer.from(e.payload).toString('latin1').endsWith('tmtmtm'));
});

test(
  "wireguard-go transcript: the native fast path seals wireguard-go's and our plaintexts to the recorded bytes",
  { skip: skipNative },
  () => {
    let n = 0;
    const check = (key: Uint8Array, message: Uint8Array): void => {
      const receiver = new DataView(message.buffer, message.byteOffset).getUint32(4, true);
      const counter = Number(new DataView(message.buffer, message.byteOffset).getBigUint64(8, true));
      const plaintext = open(key, counter, message.subarray(16));
      assert.ok(plaintext, 'opens with the derived key');
      assert.equal(hex(fast!.fastPathSeal(key, receiver, counter, plaintext, 1420)), hex(message));
      n++;
    };
    const r = initiatorRun();
    check(r.keypair!.sendKey.expose(), one(r.ms, 'tunmesh', 'transport'));
    check(r.keypair!.receiveKey.expose(), one(r.ms, 'wireguard-go', 'transport'));
    const ms = messages('wireguard-go-initiates');
    const dev = ours('responder');
    const kp = ofType(dev.receive(one(ms, 'wireguard-go', 'initiation'), wgEndpoint, 1000), 'keypair')[0]!.keypair;
    check(kp.receiveKey.expose(), one(ms, 'wireguard-go', 'transport'));
    assert.equal(n, 3);
  },
);
