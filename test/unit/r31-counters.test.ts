// R31 stats exactness: N packets of known sizes (and replays, forgeries and keepalives mixed in) leave
// the per-peer rx/tx packet and byte counters at exactly the inner bytes delivered — nothing from
// rejected input, keepalives or padding is counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4Packet, makePair, ofType, sends, Wire } from '../helpers/wg-pair.js';

test('R31: rx/tx counters are exact inner bytes for 1000 packets of mixed sizes, whatever else arrives', () => {
  const { a, b, clock } = makePair();
  const w = new Wire(a, b, clock);
  let bytes = 0;
  const sizes = [1, 7, 64, 100, 500, 1372 - 20, 1400 - 20];
  const recorded: Uint8Array[] = [];
  w.filter = (d) => {
    if (d.src === a && d.data[0] === 4 && recorded.length < 50) recorded.push(d.data);
    return false;
  };
  for (let i = 0; i < 1000; i++) {
    const p = ipv4Packet('198.19.0.1', '198.19.0.2', new Uint8Array(sizes[i % sizes.length]!));
    bytes += p.length;
    w.send(a, p);
    if (i % 100 === 0) w.run(11_000); // passive keepalives go both ways
  }
  // Replays and forgeries of counted packets change no counter.
  for (const d of recorded) {
    b.dev.receive(d, a.endpoint, clock.now);
    const forged = Uint8Array.from(d);
    forged[forged.length - 1]! ^= 1;
    b.dev.receive(forged, a.endpoint, clock.now);
  }
  const sa = a.dev.peerStatus(b.key)!;
  const sb = b.dev.peerStatus(a.key)!;
  const delivered = ofType(w.log.get(b)!, 'deliver');
  assert.equal(delivered.length, 1000);
  assert.equal(sa.txPackets, 1000);
  assert.equal(sb.rxPackets, 1000);
  assert.equal(sa.txBytes, bytes, 'tx bytes == inner bytes sent');
  assert.equal(sb.rxBytes, bytes, 'rx bytes == inner bytes delivered');
  assert.equal(sa.rxBytes, 0, 'keepalives are not counted as data');
  assert.ok(sends(w.log.get(b)!).length > 0, 'b did send (keepalives)');
});
