// The mesh as the dashboard draws it: nodes and links with method, RTT, rates and health. This node knows
// its own links; the links between other nodes come from their status, fetched over the authenticated
// control API (signed with the cluster secret, as nodes talk to each other) and cached for a second.
// Node health is this node's membership view (alive → up, suspect, dead → down); a node that vanished
// from the member list after being seen stays listed as down.
import type { PeerStatusRow, StatusReport } from './status.js';

export interface TopologyNode {
  readonly name: string;
  readonly self: boolean;
  readonly state: 'up' | 'suspect' | 'down';
  readonly addresses: readonly string[];
  /** This node could read the node's own status just now. */
  readonly reachable: boolean;
}

export interface TopologyLink {
  readonly source: string;
  readonly target: string;
  readonly method: string;
  readonly rttMs: number | null;
  readonly rxBps: number;
  readonly txBps: number;
  readonly lastHandshake: string | null;
  /** up: recent handshake and both ends up; idle: no recent handshake; down: an end is down. */
  readonly state: 'up' | 'idle' | 'down';
}

export interface Topology {
  readonly nodes: TopologyNode[];
  readonly links: TopologyLink[];
}

const sessionFreshMs = 180_000;

const nodeState = (row: PeerStatusRow): TopologyNode['state'] =>
  row.state === 'alive' || row.state === 'static' ? 'up' : row.state === 'suspect' ? 'suspect' : 'down';

/**
 * Builds the topology from this node's status, the statuses other nodes answered with, and the names
 * this node has seen before (kept as down when gone).
 */
export function buildTopology(
  own: StatusReport,
  remote: ReadonlyMap<string, StatusReport>,
  seenBefore: ReadonlySet<string>,
  nowMs: number,
): Topology {
  const nodes = new Map<string, TopologyNode>();
  nodes.set(own.node.name, {
    name: own.node.name,
    self: true,
    state: 'up',
    addresses: own.node.addresses,
    reachable: true,
  });
  for (const p of own.peers)
    nodes.set(p.name, {
      name: p.name,
      self: false,
      state: nodeState(p),
      addresses: p.addresses,
      reachable: remote.has(p.name),
    });
  for (const name of seenBefore)
    if (!nodes.has(name)) nodes.set(name, { name, self: false, state: 'down', addresses: [], reachable: false });

  const links = new Map<string, TopologyLink>();
  const add = (from: string, p: PeerStatusRow) => {
    const [source, target] = from < p.name ? [from, p.name] : [p.name, from];
    const key = `${source}\n${target}`;
    const ends = [nodes.get(source)?.state, nodes.get(target)?.state];
    const fresh = p.lastHandshake !== null && nowMs - Date.parse(p.lastHandshake) < sessionFreshMs;
    const state: TopologyLink['state'] = ends.some((s) => s !== 'up') ? 'down' : fresh ? 'up' : 'idle';
    const prev = links.get(key);
    if (prev) {
      // The first report (this node's own view) wins; a second only fills in what it lacks.
      if (prev.rttMs === null && p.rttMs !== null) links.set(key, { ...prev, rttMs: p.rttMs });
      return;
    }
    links.set(key, {
      source,
      target,
      method: p.method,
      rttMs: p.rttMs,
      rxBps: p.rxBps,
      txBps: p.txBps,
      lastHandshake: p.lastHandshake,
      state,
    });
  };
  for (const p of own.peers) add(own.node.name, p);
  for (const [name, s] of remote) {
    if (nodes.get(name)?.state !== 'up') continue;
    for (const p of s.peers) {
      if (!nodes.has(p.name)) continue;
      add(name, p);
    }
  }
  return { nodes: [...nodes.values()], links: [...links.values()] };
}
