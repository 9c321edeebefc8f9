// A userspace UDP impairment relay (this kernel has no netem): delay with jitter, reordering,
// duplication and loss between two UDP endpoints. Runs inside a namespace:
//   node --import tsx test/helpers/impair-relay.ts '<json options>'
// Socket `a` (listenA) talks to side A (toA), socket `b` (listenB) to side B (toB): what arrives on a
// goes out of b to toB, and back. With nft DNAT on both sides (see relayPath in impair-nft.ts) the two
// WireGuard peers keep their endpoints and never notice the relay. On SIGTERM/SIGINT it prints one JSON
// line of counters.
import dgram from 'node:dgram';
import { Rng } from '../fuzz/engine.js';

export interface RelayOptions {
  host: string;
  listenA: number;
  listenB: number;
  toA: { host: string; port: number };
  toB: { host: string; port: number };
  delayMs?: number;
  jitterMs?: number;
  /** Percent of packets held back an extra `reorderExtraMs` (so later ones overtake them). */
  reorderPct?: number;
  reorderExtraMs?: number;
  duplicatePct?: number;
  lossPct?: number;
  seed?: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as RelayOptions;
const rng = new Rng(o.seed ?? 1);
const stats = { forwarded: 0, duplicated: 0, reordered: 0, lost: 0 };
const pct = (p: number | undefined) => p !== undefined && p > 0 && rng.below(10_000) < p * 100;

const a = dgram.createSocket('udp4');
const b = dgram.createSocket('udp4');
function relay(out: dgram.Socket, to: { host: string; port: number }) {
  return (msg: Buffer) => {
    if (pct(o.lossPct)) {
      stats.lost++;
      return;
    }
    const copies = pct(o.duplicatePct) ? 2 : 1;
    if (copies === 2) stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      let delay = (o.delayMs ?? 0) + (o.jitterMs ? rng.below(2 * o.jitterMs + 1) - o.jitterMs : 0);
      if (pct(o.reorderPct)) {
        delay += o.reorderExtraMs ?? 20;
        stats.reordered++;
      }
      const send = () => out.send(msg, to.port, to.host, () => undefined);
      if (delay <= 0) send();
      else setTimeout(send, delay);
      stats.forwarded++;
    }
  };
}
a.on('message', relay(b, o.toB));
b.on('message', relay(a, o.toA));
a.on('error', () => undefined);
b.on('error', () => undefined);
await new Promise<void>((r) => a.bind(o.listenA, o.host, r));
await new Promise<void>((r) => b.bind(o.listenB, o.host, r));
console.log('ready');
const stop = () => {
  console.log(JSON.stringify(stats));
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
