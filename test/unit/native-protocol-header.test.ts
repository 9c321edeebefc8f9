// native/src/generated/protocol.h is generated from the TypeScript tables (scripts/gen-native-header.ts):
// the committed file must be what `npm run docs` writes now, and the addon built from it must report
// exactly the drop reasons TypeScript lists for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { protocolHeaderPath, renderProtocolHeader } from '../../scripts/gen-native-header.js';
import { handshakeLoad, net, wg, wgMessage } from '../../src/base/constants.js';
import { loadFastPath, nativeDropReasons } from '../../src/dataplane/native-addon.js';
import { dropReasons } from '../../src/metrics/table.js';

const committed = readFileSync(new URL(`../../${protocolHeaderPath}`, import.meta.url), 'utf8');

test('the committed protocol.h equals what `npm run docs` generates from the tables', () => {
  assert.equal(committed, renderProtocolHeader(), `${protocolHeaderPath} is stale: run \`npm run docs\` and commit it`);
});

test('protocol.h carries the tables’ numbers and the native drop reasons in order', () => {
  const h = renderProtocolHeader();
  assert.match(h, new RegExp(`kWgMessageInitiationSize = ${wgMessage.initiationSize};`));
  assert.match(h, new RegExp(`kWgReplayWindowSize = ${wg.replayWindowSize};`));
  assert.match(h, new RegExp(`kWgRejectAfterMessages = ${wg.rejectAfterMessages}ull;`));
  assert.match(h, new RegExp(`kNetDefaultTunMtu = ${net.defaultTunMtu};`));
  assert.match(h, new RegExp(`kHandshakeLoadPerSlot = ${handshakeLoad.perSlot};`));
  const names = [...h.matchAll(/^ {4}"([a-z0-9_]+)",$/gm)].map((m) => m[1]);
  assert.deepEqual(names, [...nativeDropReasons]);
  for (const r of nativeDropReasons) assert.ok(r in dropReasons, `${r} is a metric drop reason`);
});

const addon = loadFastPath();
test(
  'the built addon counts exactly the generated drop reasons',
  { skip: addon === undefined && 'native addon not built (run npm install)' },
  () => {
    const fp = new addon!.FastPath({ mtu: net.defaultTunMtu });
    assert.deepEqual(Object.keys(fp.stats().drops), [...nativeDropReasons]);
  },
);
