// The peers table that `tunmesh peers` and `tunmesh status` print.
import type { PeerStatusRow } from '../daemon/status.js';
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
  return formatTable(['PEER', 'STATE', 'ADDRESSES', 'METHOD', 'ENDPOINT', 'HANDSHAKE', 'RX', 'TX', 'RTT'], rows);
}
