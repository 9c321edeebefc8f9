// The peers table that `tunmesh peers` and `tunmesh status` print.
import type { PeerStatusRow, RefusedRoute } from '../daemon/status.js';
import { formatTable, humanBytes, sinceText } from './format.js';

export function renderPeers(peers: readonly PeerStatusRow[], nowMs = Date.now()): string {
  if (peers.length === 0) return 'no peers yet\n';
  const rows = peers.map((p) => [
    p.name,
    p.state,
    p.addresses.join(' '),
    p.path && p.path !== p.method ? `${p.method} (now ${p.path})` : p.method,
    p.endpoint ?? '-',
    sinceText(p.lastHandshake, nowMs),
    humanBytes(p.rxBytes),
    humanBytes(p.txBytes),
    p.rttMs === null || p.rttMs === undefined ? '-' : `${p.rttMs.toFixed(2)} ms`,
  ]);
  const table = formatTable(['PEER', 'STATE', 'ADDRESSES', 'METHOD', 'ENDPOINT', 'HANDSHAKE', 'RX', 'TX', 'RTT'], rows);
  const refused = peers.flatMap((p) => (p.refusedRoutes ?? []).map((r) => `  ${p.name}: ${refusedText(r)}`));
  return refused.length ? `${table}\nrefused routes (not installed):\n${refused.join('\n')}\n` : table;
}

/** `198.19.0.3/32 covers_member (198.19.0.3 of c)` */
export function refusedText(r: RefusedRoute): string {
  return `${r.route} ${r.reason}${r.member ? ` (${r.address} of ${r.member})` : ''}`;
}
