// mac1/mac2 and cookie replies (whitepaper §5.4.4, §5.4.7; wireguard-go cookie.go). mac1 proves the
// sender knows our public key; under load, mac2 proves it can receive at its source address, via a
// cookie we sent there: cookie = MAC(secret, source address bytes || port LE), secret rotated every
// cookieRefreshTime. Time is passed in as monotonic ms.
import { equalBytes, hash, mac, macLength } from '../crypto/hash.js';
import { xopen, xseal, xNonceLength } from '../crypto/aead.js';
import { encodeCookieReply, type CookieReplyMessage } from '../wire/wireguard.js';
import { parseAddress } from '../wire/ip.js';

const labelMac1 = new TextEncoder().encode('mac1----');
const labelCookie = new TextEncoder().encode('cookie--');

/** mac1 key for messages sent to the owner of `publicKey`. */
export function mac1Key(publicKey: Uint8Array): Uint8Array {
  return hash(labelMac1, publicKey);
}

/** Key that encrypts cookies sent by the owner of `publicKey`. */
export function cookieKey(publicKey: Uint8Array): Uint8Array {
  return hash(labelCookie, publicKey);
}

/** Source bytes a cookie is bound to: address bytes then the port little-endian (wireguard-go's AddrPort form). */
export function sourceBytes(host: string, port: number): Uint8Array {
  const addr = parseAddress(host) ?? new TextEncoder().encode(host);
  const out = new Uint8Array(addr.length + 2);
  out.set(addr);
  out[addr.length] = port & 0xff;
  out[addr.length + 1] = (port >> 8) & 0xff;
  return out;
}

function macOffsets(msg: Uint8Array): { mac1At: number; mac2At: number } {
  const mac2At = msg.length - macLength;
  return { mac1At: mac2At - macLength, mac2At };
}

/** The responder side: checks macs on messages sent to us and makes cookie replies. */
export class CookieChecker {
  readonly #mac1Key: Uint8Array;
  readonly #cookieKey: Uint8Array;
  readonly #secret = new Uint8Array(32);
  #secretSetAt: number | undefined;
  readonly #refreshMs: number;

  constructor(localPublicKey: Uint8Array, refreshMs: number) {
    this.#mac1Key = mac1Key(localPublicKey);
    this.#cookieKey = cookieKey(localPublicKey);
    this.#refreshMs = refreshMs;
  }

  checkMac1(msg: Uint8Array): boolean {
    const { mac1At, mac2At } = macOffsets(msg);
    if (mac1At < 0) return false;
    return equalBytes(mac(this.#mac1Key, msg.subarray(0, mac1At)), msg.subarray(mac1At, mac2At));
  }

  checkMac2(msg: Uint8Array, source: Uint8Array, now: number): boolean {
    if (this.#secretSetAt === undefined || now - this.#secretSetAt > this.#refreshMs) return false;
    const { mac2At } = macOffsets(msg);
    if (mac2At < macLength) return false;
    const cookie = mac(this.#secret, source);
    return equalBytes(mac(cookie, msg.subarray(0, mac2At)), msg.subarray(mac2At));
  }

  /** A 64-byte cookie reply to `msg` (whose sender index is `receiver`); rotates the secret when due. */
  createReply(
    msg: Uint8Array,
    receiver: number,
    source: Uint8Array,
    now: number,
    random: (n: number) => Uint8Array,
  ): Uint8Array {
    if (this.#secretSetAt === undefined || now - this.#secretSetAt > this.#refreshMs) {
      this.#secret.set(random(32));
      this.#secretSetAt = now;
    }
    const cookie = mac(this.#secret, source);
    const { mac1At, mac2At } = macOffsets(msg);
    const nonce = random(xNonceLength);
    const sealed = xseal(this.#cookieKey, nonce, cookie, msg.subarray(mac1At, mac2At));
    return encodeCookieReply({ receiver, nonce, cookie: sealed });
  }
}

/** The initiator side, one per peer: adds macs to messages for that peer and keeps its cookie. */
export class CookieGenerator {
  readonly #mac1Key: Uint8Array;
  readonly #cookieKey: Uint8Array;
  readonly #lastMac1 = new Uint8Array(macLength);
  #hasLastMac1 = false;
  readonly #cookie = new Uint8Array(macLength);
  #cookieSetAt: number | undefined;
  readonly #refreshMs: number;

  constructor(remotePublicKey: Uint8Array, refreshMs: number) {
    this.#mac1Key = mac1Key(remotePublicKey);
    this.#cookieKey = cookieKey(remotePublicKey);
    this.#refreshMs = refreshMs;
  }

  /** Fills the mac1 and (while a cookie is fresh) mac2 fields at the end of `msg`, in place. */
  addMacs(msg: Uint8Array, now: number): void {
    const { mac1At, mac2At } = macOffsets(msg);
    const m1 = mac(this.#mac1Key, msg.subarray(0, mac1At));
    msg.set(m1, mac1At);
    this.#lastMac1.set(m1);
    this.#hasLastMac1 = true;
    if (this.#cookieSetAt === undefined || now - this.#cookieSetAt > this.#refreshMs) return;
    msg.set(mac(this.#cookie, msg.subarray(0, mac2At)), mac2At);
  }

  /** Stores the cookie from a reply to our last message; false (nothing changes) if it does not open. */
  consumeReply(reply: CookieReplyMessage, now: number): boolean {
    if (!this.#hasLastMac1) return false;
    const cookie = xopen(this.#cookieKey, reply.nonce, reply.cookie, this.#lastMac1);
    if (cookie === undefined) return false;
    this.#cookie.set(cookie);
    this.#cookieSetAt = now;
    return true;
  }
}
