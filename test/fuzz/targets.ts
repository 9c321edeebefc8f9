// Fuzz targets: one per wire decoder, the device's receive path (decapsulate), the control API's auth
// header parsers and its JSON body schemas. A target takes arbitrary bytes and must return an outcome
// label (never throw, never hang); decoders that accept also pass a round-trip check (R2):
// encode(decode(x)) == x byte for byte, so decode(encode(decode(x))) == decode(x).
// Used by the bounded property run in npm test (test/property/r01-r05-fuzz.test.ts) and by
// `npm run fuzz` (scripts/fuzz.ts, 10^6 cases per target).
import { isDeepStrictEqual } from 'node:util';
import { wgMessage } from '../../src/base/constants.js';
import { dropReasons } from '../../src/metrics/table.js';
import {
  decodeCookieReply,
  decodeInitiation,
  decodeMessage,
  decodeResponse,
  decodeTransport,
  encodeCookieReply,
  encodeInitiation,
  encodeResponse,
  encodeTransport,
  messageType,
  type WireGuardMessage,
  type WireResult,
} from '../../src/wire/wireguard.js';
import { formatAddress, formatCidr, parseAddress, parseCidr, peekIp } from '../../src/wire/ip.js';
import { parseRequestAuth, parseResponseAuth } from '../../src/control/auth.js';
import { gossipRequestSchema, joinReplySchema, replySchema } from '../../src/membership/messages.js';
import { nodeRecordSchema } from '../../src/membership/record.js';
import { makePair } from '../helpers/wg-pair.js';
import type { ZodType } from 'zod';

export interface FuzzTarget {
  readonly name: string;
  /** Runs one input; returns an outcome label (used to keep inputs that reach a new outcome). */
  run(input: Uint8Array): string;
}

export class FuzzFailure extends Error {}

function check(cond: boolean, what: string): void {
  if (!cond) throw new FuzzFailure(what);
}

function encodeAny(m: WireGuardMessage): Uint8Array {
  switch (m.type) {
    case 1:
      return encodeInitiation(m);
    case 2:
      return encodeResponse(m);
    case 3:
      return encodeCookieReply(m);
    case 4:
      return encodeTransport(m);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/** Outcome of a wire decoder; on success the round trip must be a fixed point (R2). */
function wireOutcome(input: Uint8Array, r: WireResult<WireGuardMessage>): string {
  if (!r.ok) {
    check(Object.hasOwn(dropReasons, r.reason), `reason ${r.reason} is not in the drop table`);
    return r.reason;
  }
  const again = encodeAny(r.msg);
  check(bytesEqual(again, input), 'encode(decode(x)) != x');
  const second = decodeMessage(again);
  check(second.ok && isDeepStrictEqual(second.msg, r.msg), 'decode(encode(decode(x))) != decode(x)');
  // Exact lengths (R3): handshake messages only at their size, transport at ≥ header + tag.
  const size = { 1: wgMessage.initiationSize, 2: wgMessage.responseSize, 3: wgMessage.cookieReplySize }[
    r.msg.type as 1 | 2 | 3
  ];
  check(size === undefined ? input.length >= wgMessage.transportMinSize : input.length === size, 'length rule');
  return `ok:${r.msg.type}`;
}

const text = new TextDecoder('utf-8', { fatal: false });

/** The control server's body path: JSON.parse (a SyntaxError is its 400) then the zod schema. */
function bodyTarget(name: string, schema: ZodType<unknown>): FuzzTarget {
  return {
    name,
    run(input) {
      let value: unknown;
      try {
        value = JSON.parse(text.decode(input));
      } catch (e) {
        check(e instanceof SyntaxError, `JSON.parse threw ${String(e)}`);
        return 'bad_json';
      }
      const r = schema.safeParse(value);
      if (!r.success) return `invalid:${r.error.issues[0]?.code ?? '?'}`;
      // What the schema accepts survives a JSON round trip unchanged (what a node re-gossips).
      const again = schema.safeParse(JSON.parse(JSON.stringify(r.data)));
      check(again.success && isDeepStrictEqual(again.data, r.data), 'schema round trip');
      return 'ok';
    },
  };
}

/** WgDevice.receive on a fresh pair: only drops come out, and the peer's state never changes (R5). */
function deviceTarget(): FuzzTarget {
  const { a, b, clock } = makePair();
  const before = JSON.stringify(a.dev.snapshot(b.key));
  return {
    name: 'device-receive',
    run(input) {
      const out = a.dev.receive(input, b.endpoint, clock.now);
      check(out.length === 1 && out[0]!.type === 'drop', `non-drop action ${JSON.stringify(out)}`);
      check(JSON.stringify(a.dev.snapshot(b.key)) === before, 'state changed');
      return out[0]!.type === 'drop' ? out[0]!.reason : '?';
    },
  };
}

export function makeTargets(): FuzzTarget[] {
  return [
    { name: 'wire-message', run: (x) => wireOutcome(x, decodeMessage(x)) },
    { name: 'wire-initiation', run: (x) => wireOutcome(x, decodeInitiation(x)) },
    { name: 'wire-response', run: (x) => wireOutcome(x, decodeResponse(x)) },
    { name: 'wire-cookie-reply', run: (x) => wireOutcome(x, decodeCookieReply(x)) },
    { name: 'wire-transport', run: (x) => wireOutcome(x, decodeTransport(x)) },
    {
      name: 'wire-type',
      run: (x) => {
        const t = messageType(x);
        check(Number.isInteger(t) && t >= 0 && t <= 4, `type ${t}`);
        return String(t);
      },
    },
    {
      name: 'ip-peek',
      run: (x) => {
        const r = peekIp(x);
        if (!r.ok) return r.reason;
        check(r.ip.totalLength <= x.length && r.ip.totalLength >= 20, 'peek length outside the packet');
        return `v${r.ip.version}`;
      },
    },
    {
      name: 'ip-address-text',
      run: (x) => {
        const s = text.decode(x);
        const a = parseAddress(s);
        const c = parseCidr(s);
        if (a) {
          const f = formatAddress(a);
          check(f !== undefined && isDeepStrictEqual(parseAddress(f), a), 'address round trip');
        }
        if (c) check(isDeepStrictEqual(parseCidr(formatCidr(c)), c), 'cidr round trip');
        return `${a ? 'addr' : '-'}${c ? 'cidr' : '-'}`;
      },
    },
    {
      name: 'auth-header',
      run: (x) => {
        const s = text.decode(x);
        const q = parseRequestAuth(s);
        const p = parseResponseAuth(s);
        return `${q ? 'req' : '-'}${p ? 'resp' : '-'}`;
      },
    },
    deviceTarget(),
    bodyTarget('body-gossip-request', gossipRequestSchema),
    bodyTarget('body-reply', replySchema),
    bodyTarget('body-join-reply', joinReplySchema),
    bodyTarget('body-node-record', nodeRecordSchema),
  ];
}
