// nftables helpers for the impairment/silence tests: named counters and random loss, in a namespace.
// Everything lives in one table `tp8` per namespace (inet family), removed with the namespace.
import type { Lab } from './netns.js';

export interface NftCounter {
  packets: number;
  bytes: number;
}

async function nft(lab: Lab, ns: string, script: string): Promise<void> {
  await lab.exec(ns, 'nft', ['-f', '-'], { input: script });
}

/** Ensures table inet tp8 with input/output filter chains exists in `ns`. */
export async function nftTable(lab: Lab, ns: string): Promise<void> {
  await nft(
    lab,
    ns,
    `table inet tp8 {
  chain in { type filter hook input priority 0; policy accept; }
  chain out { type filter hook output priority 0; policy accept; }
}`,
  );
}

/** A named counter fed by a rule in chain `in` or `out`, e.g. match = 'ip saddr 198.18.1.1'. */
export async function nftCounter(lab: Lab, ns: string, name: string, chain: 'in' | 'out', match: string) {
  await nftTable(lab, ns);
  await nft(lab, ns, `add counter inet tp8 ${name}\nadd rule inet tp8 ${chain} ${match} counter name ${name}\n`);
}

export async function readCounter(lab: Lab, ns: string, name: string): Promise<NftCounter> {
  const r = await lab.exec(ns, 'nft', ['-j', 'list', 'counter', 'inet', 'tp8', name]);
  const j = JSON.parse(r.stdout) as { nftables: { counter?: NftCounter }[] };
  const c = j.nftables.find((x) => x.counter)?.counter;
  if (!c) throw new Error(`nft counter ${name} not found in ${ns}`);
  return { packets: c.packets, bytes: c.bytes };
}

/** Random loss of `percent` % on packets matching `match` (nft numgen; no netem here), in the given chains. */
export async function nftLoss(
  lab: Lab,
  ns: string,
  percent: number,
  match = 'meta l4proto udp',
  chains: readonly ('in' | 'out')[] = ['in', 'out'],
): Promise<void> {
  await nftTable(lab, ns);
  const rules = chains.map(
    (c) => `add rule inet tp8 ${c} ${match} numgen random mod 100 < ${percent} counter drop comment "loss"`,
  );
  await nft(lab, ns, rules.join('\n') + '\n');
}

/** Packets dropped so far by the loss rules of `ns`. */
/**
 * What the loss rules dropped so far. Bytes are the robust measure: with UDP GSO one dropped skb can be a
 * whole train of datagrams, so packet counts depend on the engine.
 */
export async function lossDrops(lab: Lab, ns: string): Promise<{ packets: number; bytes: number }> {
  const r = await lab.exec(ns, 'nft', ['-j', 'list', 'table', 'inet', 'tp8']);
  const j = JSON.parse(r.stdout) as {
    nftables: { rule?: { comment?: string; expr: { counter?: { packets: number; bytes: number } }[] } }[];
  };
  const n = { packets: 0, bytes: 0 };
  for (const x of j.nftables)
    if (x.rule?.comment === 'loss')
      for (const e of x.rule.expr) {
        n.packets += e.counter?.packets ?? 0;
        n.bytes += e.counter?.bytes ?? 0;
      }
  return n;
}

/** Removes every loss rule added by nftLoss. */
export async function nftClearLoss(lab: Lab, ns: string): Promise<void> {
  const r = await lab.exec(ns, 'nft', ['-a', '-j', 'list', 'table', 'inet', 'tp8']);
  const j = JSON.parse(r.stdout) as { nftables: { rule?: { chain: string; handle: number; comment?: string } }[] };
  for (const x of j.nftables) {
    if (x.rule?.comment === 'loss')
      await lab.exec(ns, 'nft', ['delete', 'rule', 'inet', 'tp8', x.rule.chain, 'handle', String(x.rule.handle)]);
  }
}

/** UDP socket-buffer overflows in the namespace (kernel drops after nft's input hook). */
export async function udpRcvbufErrors(lab: Lab, ns: string): Promise<number> {
  const r = await lab.exec(ns, 'cat', ['/proc/net/snmp']);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return Number(values[names.indexOf('RcvbufErrors')]);
}

/**
 * Steers the WireGuard traffic between two nodes through a relay in namespace `relayNs` at `relayHost`:
 * on each side, an nft DNAT rule rewrites packets to the other node's UDP port towards the relay's
 * socket for that side. Conntrack un-NATs the replies, so both peers keep their endpoints.
 */
export async function relayPath(
  lab: Lab,
  a: { ns: string; ip: string },
  b: { ns: string; ip: string },
  port: number,
  relayHost: string,
  relayPortA: number,
  relayPortB: number,
): Promise<void> {
  for (const [self, other, to] of [
    [a, b, relayPortA],
    [b, a, relayPortB],
  ] as const) {
    await nft(
      lab,
      self.ns,
      `table ip tp8nat {
  chain out { type nat hook output priority -100; policy accept;
    ip daddr ${other.ip} udp dport ${port} dnat to ${relayHost}:${to}
  }
}`,
    );
  }
}
