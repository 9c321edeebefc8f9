// Traffic assertions the mesh tests share: pings between listed pairs of nodes, and TCP transfers that
// must arrive whole and hash-equal.
import assert from 'node:assert/strict';
import type { Mesh } from './mesh.js';
import type { Lab } from './netns.js';
import { ping, tcpTransfer } from './transfer.js';

export type Pair = readonly [from: string, to: string];

/** Every ordered pair of `nodes`. */
export const allPairs = (nodes: readonly string[]): Pair[] =>
  nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => [a, b] as const));

/** Each pair gets all `count` echo replies, over IPv4 and (with `v6`) IPv6. */
export async function assertPings(
  lab: Lab,
  mesh: Mesh,
  pairs: readonly Pair[],
  opts: { count?: number; v6?: boolean } = {},
): Promise<void> {
  const count = opts.count ?? 3;
  for (const [from, to] of pairs) {
    const v4 = await ping(lab, lab.node(from).ns, mesh.overlay4(to), { count });
    assert.equal(v4.received, count, `${from} -> ${to} IPv4: ${v4.output}`);
    if (!opts.v6) continue;
    const v6 = await ping(lab, lab.node(from).ns, mesh.overlay6(to), { count });
    assert.equal(v6.received, count, `${from} -> ${to} IPv6: ${v6.output}`);
  }
}

/** Each pair moves `bytes` over TCP, intact; logs one line per pair under `label`. */
export async function assertTransfers(
  lab: Lab,
  mesh: Mesh,
  pairs: readonly Pair[],
  bytes: number,
  label: string,
): Promise<void> {
  for (const [from, to] of pairs) {
    const t = await tcpTransfer(lab, lab.node(from).ns, lab.node(to).ns, mesh.overlay4(to), bytes);
    assert.equal(t.bytesReceived, bytes, `${from} → ${to}`);
    assert.equal(t.receivedSha256, t.sentSha256, `${from} → ${to}`);
    console.log(
      `# ${label} ${from} → ${to}: ${(bytes / 2 ** 20).toFixed(0)} MiB in ${t.seconds.toFixed(2)} s, sha256 equal`,
    );
  }
}
