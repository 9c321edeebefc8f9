// Regression SNAPSHOT, not a known answer: test/vectors/noise-ikpsk2.json was written by our own handshake
// code (computeNoiseVectors), so a protocol bug present when it was written would pass here. It pins the
// reference path, the WgDevice and the native seal to each other. The known answers from outside are
// test/unit/wg-go-transcript.test.ts (bytes recorded from a stock wireguard-go), crypto-primitives.test.ts
// (RFC BLAKE2s/HMAC) and the netns wireguard-go interop tests.
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
import { computeNoiseVectors, vectorFile, type NoiseVectors } from '../vectors/noise-vectors.js';
import { ofType, sends } from '../helpers/wg-pair.js';

const stored = JSON.parse(readFileSync(vectorFile, 'utf8')) as NoiseVectors;
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const le32 = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);

/** A random source that returns the scripted byte strings in order, then zeros. */
function scripted(...chunks: Uint8Array[]): (n: number) => Uint8Array {
  return (n) => {
    const c = chunks.shift();
    if (c === undefined) return new Uint8Array(n);
    assert.equal(c.length, n, 'random request order changed');
    return Uint8Array.from(c);
  };
}

test('snapshot: the reference path reproduces the stored (self-generated) vectors exactly', () => {
  assert.deepEqual(computeNoiseVectors(), stored);
});

for (const c of stored.cases) {
  test(`snapshot ${c.name}: the responder accepts the stored initiation and reaches the stored chaining values`, () => {
    const R = { privateKey: bytes(c.inputs.responderStaticPrivate), publicKey: bytes(c.responderStaticPublic) };
    assert.equal(hex(publicKeyOf(R.privateKey)), c.responderStaticPublic);
    const init = bytes(c.initiation);
    assert.ok(new CookieChecker(R.publicKey, 120_000).checkMac1(init));
    const hs = new HandshakeState(R, bytes(c.initiatorStaticPublic), bytes(c.inputs.presharedKey));
    const d = decodeInitiation(init);
    assert.ok(d.ok);
    const r = consumeInitiation(R, d.msg, () => hs, { now: 0, initiationRateMs: 50, rekeyTimeoutMs: 5000 });
    assert.ok(r.ok);
    assert.equal(hex(r.timestamp), c.timestamp);
    assert.equal(hex(hs.hash), c.hashAfterInitiation);
    assert.equal(hex(hs.chainKey), c.chainKeyAfterInitiation);
    for (const t of c.transport) {
      const key = bytes(t.from === 'initiator' ? c.initiatorSendKey : c.initiatorReceiveKey);
      assert.equal(hex(open(key, t.counter, bytes(t.message).subarray(16))!), t.plaintext);
    }
  });

  test(`snapshot ${c.name}: WgDevices with the vector's inputs put exactly the vector's bytes on the wire`, () => {
    const psk = new Secret(bytes(c.inputs.presharedKey));
    const wall = () => c.inputs.wallClockMs;
    const initiator = new WgDevice({
      privateKey: new Secret(bytes(c.inputs.initiatorStaticPrivate)),
      random: scripted(le32(c.inputs.initiatorIndex), bytes(c.inputs.initiatorEphemeralPrivate)),
      wallClockMs: wall,
    });
    const responder = new WgDevice({
      privateKey: new Secret(bytes(c.inputs.responderStaticPrivate)),
      random: scripted(le32(c.inputs.responderIndex), bytes(c.inputs.responderEphemeralPrivate)),
      wallClockMs: wall,
    });
    const iEnd = { host: '198.18.0.1', port: 1 };
    const rEnd = { host: '198.18.0.2', port: 2 };
    initiator.addPeer({ publicKey: bytes(c.responderStaticPublic), presharedKey: psk, endpoint: rEnd });
    responder.addPeer({ publicKey: bytes(c.initiatorStaticPublic), presharedKey: psk });
    const rKey = Buffer.from(bytes(c.responderStaticPublic)).toString('base64');
    const ping = bytes(c.transport[1]!.plaintext).subarray(0, 28);

    const out1 = initiator.send(rKey, ping, 1000);
    assert.equal(hex(sends(out1)[0]!.data), c.initiation);
    const out2 = responder.receive(sends(out1)[0]!.data, iEnd, 1000);
    assert.equal(hex(sends(out2)[0]!.data), c.response);
    const kp = ofType(out2, 'keypair')[0]!.keypair;
    assert.equal(hex(kp.receiveKey.expose()), c.initiatorSendKey);
    const out3 = initiator.receive(sends(out2)[0]!.data, rEnd, 1000);
    // The staged ping goes out as counter 0 (no separate keepalive is needed).
    const first = sends(out3)[0]!.data;
    const expectedFirst = bytes(c.transport[0]!.message);
    assert.equal(hex(first.subarray(0, 16)), hex(expectedFirst.subarray(0, 16)));
    assert.equal(hex(open(bytes(c.initiatorSendKey), 0, first.subarray(16))!), c.transport[1]!.plaintext);
    // And the stored transport messages decrypt through the device.
    const ka = responder.receive(bytes(c.transport[0]!.message), iEnd, 1000);
    assert.ok(ka.every((x) => x.type !== 'drop'));
    const data = responder.receive(bytes(c.transport[1]!.message), iEnd, 1000);
    assert.equal(hex(ofType(data, 'deliver')[0]!.packet), hex(ping));
    const back = initiator.receive(bytes(c.transport[2]!.message), rEnd, 1000);
    assert.equal(hex(ofType(back, 'deliver')[0]!.packet), hex(ping));
  });
}

test('cookie vector: the reply opens with the stored key and the stored mac2 verifies', () => {
  const v = stored.cookie;
  const checker = new CookieChecker(bytes(v.responderStaticPublic), 120_000);
  const random = scripted(bytes(v.secret), bytes(v.nonce));
  const reply = checker.createReply(bytes(v.message), v.receiver, bytes(v.source), 0, random);
  assert.equal(hex(reply), v.reply);
  assert.ok(checker.checkMac2(bytes(v.messageWithMac2), bytes(v.source), 1));
  assert.ok(!checker.checkMac2(bytes(v.messageWithMac2), bytes(v.source).fill(0), 1));
});
