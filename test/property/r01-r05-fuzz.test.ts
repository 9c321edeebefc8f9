// R1–R5 (bounded run for npm test; `npm run fuzz` runs 10^6 cases per target, see scripts/fuzz.ts):
// every wire decoder, the device's receive path, the auth header parsers and the control API body
// schemas take arbitrary and mutated input without throwing or hanging (R1, R4), accepted wire
// messages are round-trip fixed points (R2), lengths are exact (R3, also the table below), and
// unknown types / reserved bytes are silent drops (R5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wgMessage } from '../../src/base/constants.js';
import { decodeMessage } from '../../src/wire/wireguard.js';
import { fuzz, loadCorpus } from '../fuzz/engine.js';
import { makeTargets } from '../fuzz/targets.js';
import { makePair } from '../helpers/wg-pair.js';

const casesPerTarget = 20_000;

for (const target of makeTargets()) {
  test(`R1/R2/R4 ${target.name}: ${casesPerTarget} cases, 0 exceptions, 0 calls > 100 ms`, () => {
    const seeds = loadCorpus(target.name);
    assert.ok(seeds.length > 0, `kept corpus for ${target.name}`);
    const s = fuzz(target, seeds, { cases: casesPerTarget, timeMs: 20_000, seed: 0x5eed });
    assert.deepEqual(s.failures, [], `failures: ${JSON.stringify(s.failures.slice(0, 2))}`);
    assert.equal(s.cases, casesPerTarget, `ran all cases (${s.cases} in ${s.elapsedMs.toFixed(0)} ms)`);
    // The run reached more than one outcome: the generator is not stuck on one rejection path.
    assert.ok(Object.keys(s.outcomes).length >= 2, JSON.stringify(s.outcomes));
  });
}

test('R2: the wire decoders accept every message kind from the seeds (the round trip is exercised)', () => {
  const s = fuzz(
    makeTargets().find((t) => t.name === 'wire-message')!,
    loadCorpus('wire-message'),
    {
      cases: 2000,
      timeMs: 10_000,
      seed: 7,
    },
  );
  for (const k of ['ok:1', 'ok:2', 'ok:3', 'ok:4'])
    assert.ok((s.outcomes[k] ?? 0) > 0, `${k}: ${JSON.stringify(s.outcomes)}`);
});

test('R3: exact-length table — every type × every length 0..2×148: handshakes only at their size, data ≥ 32', () => {
  const spec: Record<number, (n: number) => boolean> = {
    [wgMessage.initiation]: (n) => n === wgMessage.initiationSize,
    [wgMessage.response]: (n) => n === wgMessage.responseSize,
    [wgMessage.cookieReply]: (n) => n === wgMessage.cookieReplySize,
    [wgMessage.transport]: (n) => n >= wgMessage.transportMinSize,
  };
  let cells = 0;
  for (let type = 0; type <= 255; type++) {
    for (let n = 0; n <= 2 * wgMessage.initiationSize; n++) {
      const b = new Uint8Array(n).fill(0xa5);
      if (n > 0) b[0] = type;
      if (n > 3) b[1] = b[2] = b[3] = 0;
      const accepted = decodeMessage(b).ok;
      const expected = n >= 4 && (spec[type]?.(n) ?? false);
      assert.equal(accepted, expected, `type ${type} length ${n}`);
      cells++;
    }
  }
  assert.equal(cells, 256 * 297);
});

test('R5: unknown types and set reserved bytes are dropped silently and counted once each', () => {
  const { a, b, clock } = makePair();
  const before = JSON.stringify(a.dev.snapshot(b.key));
  let injected = 0;
  let unknownDrops = 0;
  for (let type = 0; type <= 255; type++) {
    for (const reserved of [0, 1, 0x80, 0xff]) {
      if (type >= 1 && type <= 4 && reserved === 0) continue; // known types with clean reserved bytes
      const m = new Uint8Array(148);
      m[0] = type;
      m[1 + (type % 3)] = reserved;
      const out = a.dev.receive(m, b.endpoint, clock.now);
      injected++;
      assert.equal(out.length, 1);
      assert.equal(out[0]!.type, 'drop', `type ${type} reserved ${reserved}: ${JSON.stringify(out)}`);
      if (out[0]!.type === 'drop' && out[0]!.reason === 'unknown_type') unknownDrops++;
    }
  }
  assert.equal(unknownDrops, injected, 'every such datagram is one unknown_type drop');
  assert.equal(JSON.stringify(a.dev.snapshot(b.key)), before, 'no state changed');
});
