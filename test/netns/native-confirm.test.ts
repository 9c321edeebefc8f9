// Key confirmation in the native rx thread, driven directly in one namespace: a test process plays the
// remote peer over loopback (sealing with fastPathSeal under keypairs it installed) and watches the TUN
// (a UDP listener behind it), the slow queue and what the tx thread sends. Proves: a responder's keypair
// is not sent on before the initiator used it; the first authenticated packet on it goes up alone (kind 1,
// untouched) and confirms it, the following ones are delivered natively in order; neither the handed-up
// packet nor a delivered one can be replayed; from then on the tx thread sends on the new keypair, and
// JS's own confirmKeypair changes nothing; a stale unconfirmed keypair (older than the current one) is
// confirmed for receiving but does not take over sending.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { Lab } from '../helpers/netns.js';
import { fastPathChildPrelude } from '../helpers/fastpath-child.js';
import { loadFastPath } from '../../src/dataplane/native-addon.js';

const skip = loadFastPath() === undefined && 'native addon not built (run npm install)';
const nativeDir = resolve(import.meta.dirname, '..', '..', 'native');
let lab: Lab;

// CommonJS child run inside the namespace: argv[1] the addon dir.
const child = `
${fastPathChildPrelude}
(async () => {
  ip('link', 'set', 'lo', 'up');
  const fp = new addon.FastPath({ mtu: 1420, offload: true });
  fp.openTun('kc0');
  ip('addr', 'add', '198.19.0.1/24', 'dev', 'kc0'); ip('link', 'set', 'kc0', 'up');
  const b = fp.bind('127.0.0.1', 0);
  const peer = dgram.createSocket('udp4');
  await new Promise((r) => peer.bind(0, '127.0.0.1', r));
  const listener = dgram.createSocket('udp4');
  await new Promise((r) => listener.bind(9000, '198.19.0.1', r));
  const local = dgram.createSocket('udp4');
  const got = [];
  listener.on('message', (m) => got.push(m.toString()));
  const sentTo = []; // receiver index of each transport message the tx thread sent the peer
  peer.on('message', (m) => { if (m[0] === 4) sentTo.push(m.readUInt32LE(4)); });
  const items = [];
  fp.setPeer(7, '127.0.0.1', peer.address().port);
  fp.setRoutes(7, Uint8Array.from([4, 32, 198, 19, 0, 2]));
  const key = () => crypto.randomBytes(32);
  const old = { send: key(), recv: key() }, fresh = { send: key(), recv: key() }, stale = { send: key(), recv: key() };
  fp.addKeypair(7, 1001, 2002, old.send, old.recv, 1000, true);     // the current session (initiator)
  fp.addKeypair(7, 1003, 2004, fresh.send, fresh.recv, 0, false);   // a newer one this node responded to
  fp.addKeypair(7, 1005, 2006, stale.send, stale.recv, 5000, false); // an older responder keypair
  fp.start((its) => { for (const it of its) if (it.kind === 1) items.push(it.data.toString('hex')); }, limits);
  const fromTun = async (tag) => {
    await new Promise((r) => local.send(Buffer.from(tag), 7000, '198.19.0.2', r));
    await sleep(150);
  };
  const wire = async (msgs) => {
    for (const m of msgs) await new Promise((r) => peer.send(m, b.port, '127.0.0.1', r));
    await sleep(200);
  };
  const seal = (k, receiver, counter, text) =>
    addon.fastPathSeal(k.recv, receiver, counter, udp4('198.19.0.2', '198.19.0.1', 5000, 9000, Buffer.from(text)), 1420);
  const steps = {};
  await fromTun('before');
  steps.before = sentTo.splice(0);
  const msgs = [0, 1, 2, 3, 4].map((i) => seal(fresh, 1003, i, 'fresh-' + i));
  await wire(msgs);
  steps.afterFirst = { items: items.splice(0), got: got.splice(0), stats: fp.stats() };
  await wire([msgs[0], msgs[2]]);
  steps.replayed = { items: items.splice(0), got: got.splice(0), stats: fp.stats() };
  await fromTun('after');
  steps.afterConfirm = sentTo.splice(0);
  steps.jsConfirm = fp.confirmKeypair(1003);
  await fromTun('after-js');
  steps.afterJsConfirm = sentTo.splice(0);
  await wire([0, 1].map((i) => seal(stale, 1005, i, 'stale-' + i)));
  steps.stale = { items: items.splice(0), got: got.splice(0), stats: fp.stats() };
  await fromTun('after-stale');
  steps.afterStale = sentTo.splice(0);
  fp.stop(); fp.close(); peer.close(); listener.close(); local.close();
  console.log(JSON.stringify({ steps, first: msgs[0].toString('hex'), staleFirst: seal(stale, 1005, 0, 'stale-0').toString('hex') }));
})().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
`;

interface Rx {
  items: string[];
  got: string[];
  stats: { puntedUnconfirmed?: number; rxPackets: number; drops: Record<string, number> };
}
interface Result {
  steps: {
    before: number[];
    afterFirst: Rx;
    replayed: Rx;
    afterConfirm: number[];
    jsConfirm: boolean;
    afterJsConfirm: number[];
    stale: Rx;
    afterStale: number[];
  };
  first: string;
  staleFirst: string;
}

before(async () => {
  if (skip) return;
  lab = await Lab.create('kc-cf-', { nodes: 1 });
});

after(async () => {
  await lab?.destroy();
});

test(
  'the rx thread confirms a responder keypair on its first packet and hands up only that one',
  { skip },
  async () => {
    const r = await lab.exec('n1', process.execPath, ['-e', child, nativeDir], { timeoutMs: 30_000 });
    const { steps: s, first, staleFirst } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Result;
    assert.deepEqual(s.before, [2002], 'before confirmation the tx thread sends on the current keypair');
    assert.deepEqual(s.afterFirst.items, [first], 'the first packet goes up untouched, alone');
    assert.deepEqual(s.afterFirst.got, ['fresh-1', 'fresh-2', 'fresh-3', 'fresh-4'], 'the rest are delivered in order');
    assert.equal(s.afterFirst.stats.puntedUnconfirmed, 1);
    assert.equal(s.afterFirst.stats.rxPackets, 4);
    assert.deepEqual(
      [s.replayed.items, s.replayed.got],
      [[], []],
      'a replay of either is neither handed up nor delivered',
    );
    assert.equal(s.replayed.stats.drops.replayed! - s.afterFirst.stats.drops.replayed!, 2);
    assert.deepEqual(s.afterConfirm, [2004], 'once confirmed, the tx thread sends on the new keypair');
    assert.equal(s.jsConfirm, true);
    assert.deepEqual(s.afterJsConfirm, [2004], "JS's confirmation changes nothing");
    assert.deepEqual(s.stale.items, [staleFirst], 'an older unconfirmed keypair: its first packet goes up too');
    assert.deepEqual(s.stale.got, ['stale-1'], 'and it receives natively from then on');
    assert.equal(s.stale.stats.puntedUnconfirmed, 2);
    assert.deepEqual(s.afterStale, [2004], 'but does not take over sending from the newer keypair');
  },
);
