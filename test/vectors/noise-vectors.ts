// Self-generated snapshot vectors for WireGuard's Noise_IKpsk2 (computed by our own handshake code, so they
// are a regression snapshot, not a known answer; wireguard-go-transcript.json is the external one): fixed
// static and ephemeral keys, PSK, timestamp and indices in; every message byte, the chaining values after
// each message, the transport keys and the first transport messages out. noise-ikpsk2.json holds the result
// so that the TypeScript reference path and a native path can be checked byte for byte against each other.
//   regenerate (only on purpose): node --import tsx test/vectors/noise-vectors.ts --write
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { clamp, publicKeyOf } from '../../src/crypto/keys.js';
import { seal } from '../../src/crypto/aead.js';
import { tai64n } from '../../src/crypto/tai64n.js';
import { CookieChecker, CookieGenerator, mac1Key, cookieKey, sourceBytes } from '../../src/noise/cookie.js';
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveSessionKeys,
  HandshakeState,
  initialChainKey,
  initialHash,
  noiseConstruction,
  wgIdentifier,
} from '../../src/noise/handshake.js';
import { decodeCookieReply, decodeInitiation, decodeResponse, encodeTransport } from '../../src/wire/wireguard.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fixed = (label: string): Uint8Array => createHash('sha256').update(`tunmesh-vector/${label}`).digest();

export interface NoiseVectorCase {
  name: string;
  inputs: {
    initiatorStaticPrivate: string;
    responderStaticPrivate: string;
    initiatorEphemeralPrivate: string;
    responderEphemeralPrivate: string;
    presharedKey: string;
    wallClockMs: number;
    initiatorIndex: number;
    responderIndex: number;
  };
  initiatorStaticPublic: string;
  responderStaticPublic: string;
  timestamp: string;
  mac1KeyToResponder: string;
  mac1KeyToInitiator: string;
  initiation: string;
  hashAfterInitiation: string;
  chainKeyAfterInitiation: string;
  response: string;
  hashAfterResponse: string;
  chainKeyAfterResponse: string;
  initiatorSendKey: string;
  initiatorReceiveKey: string;
  transport: { from: 'initiator' | 'responder'; counter: number; plaintext: string; message: string }[];
}

export interface NoiseVectors {
  construction: string;
  identifier: string;
  initialChainKey: string;
  initialHash: string;
  cases: NoiseVectorCase[];
  cookie: {
    responderStaticPublic: string;
    cookieKey: string;
    secret: string;
    source: string;
    message: string;
    receiver: number;
    nonce: string;
    reply: string;
    messageWithMac2: string;
  };
}

function computeCase(name: string, psk: Uint8Array): NoiseVectorCase {
  const iPriv = clamp(fixed(`${name}/initiator-static`));
  const rPriv = clamp(fixed(`${name}/responder-static`));
  const iEph = clamp(fixed(`${name}/initiator-ephemeral`));
  const rEph = clamp(fixed(`${name}/responder-ephemeral`));
  const wallClockMs = 1_700_000_000_000;
  const initiatorIndex = 0x11223344;
  const responderIndex = 0xa1b2c3d4;
  const I = { privateKey: iPriv, publicKey: publicKeyOf(iPriv) };
  const R = { privateKey: rPriv, publicKey: publicKeyOf(rPriv) };
  const ts = tai64n(wallClockMs);
  const iHs = new HandshakeState(I, R.publicKey, psk);
  const rHs = new HandshakeState(R, I.publicKey, psk);
  const now = 1000;

  const init = createInitiation(I, iHs, iEph, ts, initiatorIndex)!;
  new CookieGenerator(R.publicKey, 120_000).addMacs(init, now);
  const hashAfterInitiation = hex(iHs.hash);
  const chainKeyAfterInitiation = hex(iHs.chainKey);
  const di = decodeInitiation(init);
  if (!di.ok) throw new Error('vector initiation does not decode');
  const ci = consumeInitiation(R, di.msg, () => rHs, { now, initiationRateMs: 50, rekeyTimeoutMs: 5000 });
  if (!ci.ok || hex(rHs.hash) !== hashAfterInitiation) throw new Error('vector initiation not consumed');

  const resp = createResponse(rHs, rEph, responderIndex)!;
  new CookieGenerator(I.publicKey, 120_000).addMacs(resp, now);
  const hashAfterResponse = hex(rHs.hash);
  const chainKeyAfterResponse = hex(rHs.chainKey);
  const dr = decodeResponse(resp);
  if (!dr.ok || !consumeResponse(I, iHs, dr.msg).ok) throw new Error('vector response not consumed');
  const iKeys = deriveSessionKeys(iHs)!;
  const rKeys = deriveSessionKeys(rHs)!;
  if (hex(iKeys.sendKey) !== hex(rKeys.receiveKey)) throw new Error('vector keys disagree');

  const ping = Uint8Array.from(Buffer.from('4500001c0000400040010000c6130001c61300020800f7ff00000000', 'hex'));
  const transportMsg = (key: Uint8Array, receiver: number, counter: number, plaintext: Uint8Array) =>
    hex(encodeTransport({ receiver, counter: BigInt(counter), content: seal(key, counter, plaintext) }));
  // Plaintexts are as sent: keepalive empty, data zero-padded to a multiple of 16.
  const padded = new Uint8Array(32);
  padded.set(ping);
  return {
    name,
    inputs: {
      initiatorStaticPrivate: hex(iPriv),
      responderStaticPrivate: hex(rPriv),
      initiatorEphemeralPrivate: hex(iEph),
      responderEphemeralPrivate: hex(rEph),
      presharedKey: hex(psk),
      wallClockMs,
      initiatorIndex,
      responderIndex,
    },
    initiatorStaticPublic: hex(I.publicKey),
    responderStaticPublic: hex(R.publicKey),
    timestamp: hex(ts),
    mac1KeyToResponder: hex(mac1Key(R.publicKey)),
    mac1KeyToInitiator: hex(mac1Key(I.publicKey)),
    initiation: hex(init),
    hashAfterInitiation,
    chainKeyAfterInitiation,
    response: hex(resp),
    hashAfterResponse,
    chainKeyAfterResponse,
    initiatorSendKey: hex(iKeys.sendKey),
    initiatorReceiveKey: hex(iKeys.receiveKey),
    transport: [
      {
        from: 'initiator',
        counter: 0,
        plaintext: '',
        message: transportMsg(iKeys.sendKey, responderIndex, 0, new Uint8Array(0)),
      },
      {
        from: 'initiator',
        counter: 1,
        plaintext: hex(padded),
        message: transportMsg(iKeys.sendKey, responderIndex, 1, padded),
      },
      {
        from: 'responder',
        counter: 0,
        plaintext: hex(padded),
        message: transportMsg(rKeys.sendKey, initiatorIndex, 0, padded),
      },
    ],
  };
}

function computeCookie(): NoiseVectors['cookie'] {
  const rPub = publicKeyOf(clamp(fixed('cookie/responder-static')));
  const secret = fixed('cookie/secret');
  const nonce = fixed('cookie/nonce').subarray(0, 24);
  const bytes = [secret, nonce];
  const random = (n: number): Uint8Array => {
    const b = bytes.shift()!;
    if (b.length !== n) throw new Error('unexpected random request');
    return b;
  };
  const checker = new CookieChecker(rPub, 120_000);
  const gen = new CookieGenerator(rPub, 120_000);
  const msg = new Uint8Array(148);
  msg.set(fixed('cookie/message'), 0);
  msg[0] = 1;
  msg.fill(0, 1, 4);
  gen.addMacs(msg, 0);
  const source = sourceBytes('198.18.250.2', 51822);
  const reply = checker.createReply(msg, 0x01020304, source, 0, random);
  const parsed = decodeCookieReply(reply);
  if (!parsed.ok || !gen.consumeReply(parsed.msg, 0)) throw new Error('cookie reply does not open');
  const withMac2 = Uint8Array.from(msg);
  gen.addMacs(withMac2, 1);
  if (!checker.checkMac2(withMac2, source, 1)) throw new Error('mac2 does not verify');
  return {
    responderStaticPublic: hex(rPub),
    cookieKey: hex(cookieKey(rPub)),
    secret: hex(secret),
    source: hex(source),
    message: hex(msg),
    receiver: 0x01020304,
    nonce: hex(nonce),
    reply: hex(reply),
    messageWithMac2: hex(withMac2),
  };
}

export function computeNoiseVectors(): NoiseVectors {
  return {
    construction: noiseConstruction,
    identifier: wgIdentifier,
    initialChainKey: hex(initialChainKey),
    initialHash: hex(initialHash),
    cases: [computeCase('no-psk', new Uint8Array(32)), computeCase('psk', fixed('psk'))],
    cookie: computeCookie(),
  };
}

export const vectorFile = fileURLToPath(new URL('./noise-ikpsk2.json', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  writeFileSync(vectorFile, `${JSON.stringify(computeNoiseVectors(), null, 2)}\n`);
  console.log(`wrote ${vectorFile}`);
}
