// The fixed list of one-line mutations of security-relevant code that `npm run mutants` applies, one at a
// time, to a scratch copy of the tree. Each names the unit/property tests that guard the code: every
// mutant must make at least one of them fail ("killed"). A mutant's `find` must occur exactly once in its
// file (test/unit/mutants-list.test.ts checks this in npm test, so the list cannot rot silently).

export interface Mutant {
  /** Short stable name, used in the table and with --only. */
  readonly id: string;
  /** The promise it attacks (docs/SECURITY.md row or audit row). */
  readonly guards: string;
  readonly file: string;
  readonly find: string;
  readonly replace: string;
  /** Test files (repo-relative) expected to kill it. */
  readonly tests: readonly string[];
}

const replayTests = ['test/unit/r06-r11-replay.test.ts', 'test/property/replay-window.compliance.test.ts'];
const cookieTests = ['test/unit/noise-cookie.test.ts', 'test/unit/r21-r24-dos.test.ts'];
const authTests = ['test/unit/auth.test.ts'];

export const mutants: readonly Mutant[] = [
  // Replay window (R6–R11).
  {
    id: 'replay-seen-bit-ignored',
    guards: 'R6 replay window: a counter seen before is refused',
    file: 'src/noise/replay.ts',
    find: 'return (this.#ring[word]! & bit) === 0;',
    replace: 'return true;',
    tests: replayTests,
  },
  {
    id: 'replay-window-doubled',
    guards: 'R7 replay window: counters older than the window are refused',
    file: 'src/noise/replay.ts',
    find: 'if (this.#last - counter > replayWindow) return false;',
    replace: 'if (this.#last - counter > 2 * replayWindow) return false;',
    tests: replayTests,
  },
  {
    // The device checks the window before decrypting and records the counter after: removing either
    // alone is masked by the other (an equivalent mutant), so this one records before authentication.
    id: 'device-replay-window-moved-before-auth',
    guards: 'R9/R11 only authenticated packets move the replay window',
    file: 'src/noise/device.ts',
    find: 'if (!kp.replay.check(counter, limit)) {',
    replace: 'if (!kp.replay.validate(counter, limit)) {',
    tests: ['test/unit/r06-r11-replay.test.ts', 'test/unit/noise-drop-reasons.test.ts'],
  },
  // Source check (R26).
  {
    id: 'source-check-off',
    guards: 'R26 inner source address must be in the sending peer’s allowed IPs',
    file: 'src/dataplane/packet-policy.ts',
    find: "if (!isExitOf(this.#routes.lookup(src), peer)) return this.#drops.add('source_not_allowed');",
    replace: "if (false) return this.#drops.add('source_not_allowed');",
    tests: ['test/unit/r26-source-check.test.ts'],
  },
  // Rate limits (R24, and the per-peer initiation rate).
  {
    id: 'device-per-source-rate-limit-off',
    guards: 'R24 per-source handshake rate limit at the device (audit H1)',
    file: 'src/noise/device.ts',
    find: 'if (!this.#rate.allow(from.host, now)) {',
    replace: 'if (false) {',
    tests: ['test/unit/r21-r24-dos.test.ts'],
  },
  {
    id: 'rate-bucket-never-empties',
    guards: 'R24 token bucket: 20/s + burst 5 per source',
    file: 'src/noise/ratelimiter.ts',
    find: 'if (b.tokensMs >= packetCostMs) {',
    replace: 'if (b.tokensMs >= 0) {',
    tests: cookieTests,
  },
  {
    id: 'per-peer-initiation-rate-off',
    guards: 'one consumed initiation per peer per 50 ms (wireguard-go handshakeInitationRate)',
    file: 'src/noise/handshake.ts',
    find: 'if (hs.lastInitiationConsumedAt !== undefined && now - hs.lastInitiationConsumedAt <= opts.initiationRateMs) {',
    replace: 'if (false) {',
    tests: ['test/unit/noise-handshake.test.ts'],
  },
  // mac1 / mac2 / cookies (R21–R23).
  {
    id: 'device-mac1-unchecked',
    guards: 'a handshake message without a valid mac1 is dropped unanswered',
    file: 'src/noise/device.ts',
    find: 'if (!this.#checker.checkMac1(d)) {',
    replace: 'if (false) {',
    tests: ['test/unit/noise-cookie.test.ts', 'test/unit/noise-drop-reasons.test.ts'],
  },
  {
    id: 'mac1-always-valid',
    guards: 'mac1 is the keyed BLAKE2s of the message under the receiver’s public key',
    file: 'src/noise/cookie.ts',
    find: 'return equalBytes(mac(this.#mac1Key, msg.subarray(0, mac1At)), msg.subarray(mac1At, mac2At));',
    replace: 'return true;',
    tests: ['test/unit/noise-cookie.test.ts', 'test/unit/r21-r24-dos.test.ts'],
  },
  {
    id: 'device-mac2-unchecked',
    guards: 'R22 under load a handshake without a valid mac2 only gets a cookie reply',
    file: 'src/noise/device.ts',
    find: 'if (!this.#checker.checkMac2(d, source, now)) {',
    replace: 'if (false) {',
    tests: cookieTests,
  },
  {
    id: 'mac2-not-bound-to-source',
    guards: 'mac2 (the cookie) is bound to the source address and port',
    file: 'src/noise/cookie.ts',
    find: 'const cookie = mac(this.#secret, source);\n    return equalBytes(',
    replace: 'const cookie = mac(this.#secret, new Uint8Array(source.length));\n    return equalBytes(',
    tests: ['test/unit/noise-cookie.test.ts'],
  },
  {
    id: 'cookie-secret-never-expires',
    guards: 'the cookie secret rotates every 120 s; older mac2s are refused',
    file: 'src/noise/cookie.ts',
    find: 'if (this.#secretSetAt === undefined || now - this.#secretSetAt > this.#refreshMs) return false;',
    replace: 'if (this.#secretSetAt === undefined) return false;',
    tests: ['test/unit/noise-cookie.test.ts'],
  },
  {
    id: 'stale-cookie-still-used',
    guards: 'an initiator uses a received cookie only while it is fresh',
    file: 'src/noise/cookie.ts',
    find: 'if (this.#cookieSetAt === undefined || now - this.#cookieSetAt > this.#refreshMs) return;',
    replace: 'if (this.#cookieSetAt === undefined) return;',
    tests: ['test/unit/noise-cookie.test.ts'],
  },
  // Control-plane auth header (src/control/auth.ts).
  {
    id: 'auth-request-signature-unchecked',
    guards: 'control requests need a valid HMAC over method, path, ids, time, nonce and body',
    file: 'src/control/auth.ts',
    find: "if (!macEquals(a.sig, requestMac(key, r, a))) return { ok: false, reason: 'bad_signature' };",
    replace: "if (false) return { ok: false, reason: 'bad_signature' };",
    tests: authTests,
  },
  {
    id: 'auth-request-recipient-unchecked',
    guards: 'a control request addressed to another node is refused',
    file: 'src/control/auth.ts',
    find: "if (a.to !== r.ownId && !(a.to === '*' && r.allowAnyRecipient)) return { ok: false, reason: 'wrong_recipient' };",
    replace: "if (false) return { ok: false, reason: 'wrong_recipient' };",
    tests: authTests,
  },
  {
    id: 'auth-request-nonce-replay-allowed',
    guards: 'a control request replayed with the same nonce is refused',
    file: 'src/control/auth.ts',
    find: "if (!nonces.admit(a.from, a.nonce, a.ts, r.now)) return { ok: false, reason: 'replayed' };",
    replace: "if (false) return { ok: false, reason: 'replayed' };",
    tests: authTests,
  },
  {
    id: 'auth-expired-accepted',
    guards: 'a control request or response older than the clock-skew window is refused',
    file: 'src/control/auth.ts',
    find: "if (ts < now - auth.clockSkewMs) return 'expired';",
    replace: '',
    tests: authTests,
  },
  {
    id: 'auth-response-signature-unchecked',
    guards: 'a control response must carry a valid HMAC bound to our request',
    file: 'src/control/auth.ts',
    find: "if (!macEquals(a.sig, responseMac(key, r, a))) return { ok: false, reason: 'bad_signature' };",
    replace: "if (false) return { ok: false, reason: 'bad_signature' };",
    tests: authTests,
  },
  // Known answers from outside (audit M1): wireguard-go's recorded bytes, not our own snapshot.
  {
    id: 'mac1-label-changed',
    guards: 'R13 byte compatibility with stock wireguard-go (mac1 key derivation)',
    file: 'src/noise/cookie.ts',
    find: "const labelMac1 = new TextEncoder().encode('mac1----');",
    replace: "const labelMac1 = new TextEncoder().encode('mac1---_');",
    tests: ['test/unit/wg-go-transcript.test.ts'],
  },
  // Expected values that must not come from the code under test (audit M6, M7).
  {
    id: 'pack-routes-prefix-zero',
    guards: 'R45 routes reach the native table with their prefix length (audit M6)',
    file: 'src/dataplane/native-engine.ts',
    find: 'parts.push(c.addr.length === 4 ? 4 : 6, c.prefixLength, ...c.addr);',
    replace: 'parts.push(c.addr.length === 4 ? 4 : 6, 0, ...c.addr);',
    tests: ['test/unit/r45-large-allowed-ips.test.ts', 'test/unit/native-engine.test.ts'],
  },
  {
    id: 'config-mtu-max-removed',
    guards: 'R44 every bound of the config schema is enforced (audit M7)',
    file: 'src/config/schema.ts',
    find: 'mtu: field(intIn(net.minTunMtu, net.maxTunMtu)',
    replace: 'mtu: field(z.number().int().min(net.minTunMtu)',
    tests: ['test/property/r44-config.test.ts'],
  },
  // Self-signed records (P10).
  {
    id: 'record-signature-unchecked',
    guards: 'P10 a record is applied or relayed only with a valid signature of its own key',
    file: 'src/membership/core.ts',
    find: "if (v !== 'ok') return v;",
    replace: 'if (false) return v;',
    tests: ['test/unit/record-signing.test.ts'],
  },
  {
    id: 'record-signature-skips-endpoints',
    guards: 'P10 the signature covers every field of the record',
    file: 'src/membership/record-auth.ts',
    find: 'const { sig: _sig, ...rest } = r;',
    replace: 'const { sig: _sig, endpoints: _e, ...rest } = r;',
    tests: ['test/unit/record-signing.test.ts'],
  },
  {
    id: 'record-future-epoch-accepted',
    guards: 'P10 epochs far in the future are refused',
    file: 'src/membership/core.ts',
    find: "if ((u.t === 'alive' ? u.r.epoch : u.epoch) > this.#wallNow() + recordLimits.maxFutureEpochMs) {",
    replace: 'if (false) {',
    tests: ['test/unit/record-signing.test.ts'],
  },
  {
    id: 'record-key-change-by-hearsay',
    guards: 'P10 a new key for a name needs the old key, or our own verdict that the holder died',
    file: 'src/membership/core.ts',
    find: "if (e.state === 'dead' && (e.ownVerdict || isOutboundOnly(held))) return undefined;",
    replace: "if (e.state === 'dead') return undefined;",
    tests: ['test/unit/record-signing.test.ts'],
  },
  // Route claims (P11).
  {
    id: 'route-claim-covering-allowed',
    guards: 'P11 a route never equals or covers another live member’s address',
    file: 'src/routing/route-claims.ts',
    find: 'if (covered === undefined) return undefined;',
    replace: 'return undefined;',
    tests: ['test/unit/route-claims.test.ts'],
  },
  {
    id: 'route-policy-ignored',
    guards: 'P11 with cluster.routePolicy only granted prefixes are installed',
    file: 'src/routing/route-claims.ts',
    find: "if (grant && !grant.granted) return { reason: 'not_granted' };",
    replace: '',
    tests: ['test/unit/route-claims.test.ts'],
  },
  // Hostile control port (P12).
  {
    id: 'control-per-source-cap-off',
    guards: 'P12 one source holds at most its share of the control port',
    file: 'src/control/admission.ts',
    find: "if (mine >= this.#o.perSource) return 'per_source';",
    replace: '',
    tests: ['test/unit/control-hostile.test.ts'],
  },
  {
    id: 'control-operator-gate-off',
    guards: 'P13 operator routes need the operator token besides the cluster-secret signature',
    file: 'src/control/server.ts',
    find: 'if (route.operator) {',
    replace: 'if (false) {',
    tests: ['test/unit/control-hostile.test.ts'],
  },
  {
    id: 'control-body-budget-off',
    guards: 'P12 body bytes in flight are capped across connections (503)',
    file: 'src/control/server.ts',
    find: "if (!this.#budget.take(reserved)) return Promise.reject(new HttpError(503, 'BUSY'));",
    replace: 'this.#budget.take(reserved);',
    tests: ['test/unit/control-hostile.test.ts'],
  },
];
