// The status report behind `GET /v1/status`, `tunmesh status` and (later) the dashboard. It names
// peers and counts traffic; it never carries keys other than public ones.
import type { Config } from '../config/index.js';
import type { DataPlaneEngine } from '../dataplane/engine.js';
import type { MemberStatus } from '../membership/membership.js';
import type { NodeRecord } from '../membership/record.js';
import { endpointKey } from '../platform/ports.js';
import type { RefusedRoute } from '../routing/route-claims.js';
import { noPathReason } from './nat.js';

export type { RefusedRoute };

export interface PeerStatusRow {
  readonly name: string;
  readonly kind: 'mesh' | 'static';
  /** alive / suspect / dead for mesh members; static peers are always "static". */
  readonly state: string;
  readonly publicKey: string;
  readonly addresses: readonly string[];
  readonly endpoint: string | null;
  /** The negotiated transport method: wireguard, tls, null, or none (no common method; see `note`). */
  readonly method: string;
  /** What the pair uses now: the method, or tls while a wireguard pair has fallen back to the stream. */
  readonly path?: string;
  readonly lastHandshake: string | null;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly lastSeen: string | null;
  /** Mean RTT through the mesh (UDP echo between overlay addresses, daemon/rtt.ts); null when unmeasured. */
  readonly rttMs: number | null;
  /** Traffic rates over the last sampling interval. */
  readonly rxBps: number;
  readonly txBps: number;
  /** `outbound` when the member is behind a NAT (node.reach); absent for direct ones and static peers. */
  readonly reach?: 'outbound';
  /** Set when this pair cannot have a path (both behind NAT, daemon/nat.ts): why. */
  readonly note?: string;
  /** Routes the member advertises that this node refused (P11, cluster.routePolicy); absent when none. */
  readonly refusedRoutes?: readonly RefusedRoute[];
}

export interface StatusReport {
  readonly node: {
    readonly name: string;
    readonly publicKey: string | null;
    readonly addresses: readonly string[];
    readonly endpoints: readonly string[];
    readonly apiUrl: string | null;
    /** node.reach; absent in reports of older nodes. */
    readonly reach?: 'direct' | 'outbound';
    readonly engine: string | null;
    /** Bound on padding: the tunnel MTU or a smaller route MTU into the TUN (R28); absent in older reports. */
    readonly paddingMtu?: number;
    /** Grants of cluster.routePolicy in force; null = no policy (any route that covers no member). */
    readonly routePolicyGrants?: number | null;
    /** This node's own advertised routes that nodes with its policy refuse; absent when none. */
    readonly refusedRoutes?: readonly RefusedRoute[];
    readonly startedAt: string;
    readonly uptimeSec: number;
  };
  readonly peers: readonly PeerStatusRow[];
}

export interface StatusInputs {
  readonly config: Config;
  readonly self: NodeRecord | undefined;
  readonly startedAtMs: number;
  readonly nowWallMs: number;
  readonly engine: DataPlaneEngine | undefined;
  /** The current padding bound (daemon/padding-mtu.ts). */
  readonly paddingMtu?: number;
  readonly members: readonly MemberStatus[];
  readonly memberKeys: ReadonlyMap<string, string>;
  /** RTT and rates by peer name (daemon/rtt.ts, daemon/traffic.ts). */
  readonly peerStats?: (name: string) => { rttMs: number | null; rxBps: number; txBps: number } | undefined;
  /** Negotiated method and current path of a mesh peer by public key (transport/mux.ts). */
  readonly transport?: (
    publicKey: string,
  ) => { readonly method: string; readonly path: string; readonly reason?: string } | undefined;
  /** Route claims: refused routes by member, and the policy in force (daemon/advertised-routes.ts). */
  readonly routes?: {
    refused(id: string): readonly RefusedRoute[];
    readonly policyGrants: number | undefined;
  };
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export function buildStatus(i: StatusInputs): StatusReport {
  const traffic = (publicKey: string | undefined) => {
    const c = publicKey === undefined ? undefined : i.engine?.counters(publicKey);
    return {
      endpoint: c?.endpoint ? endpointKey(c.endpoint) : null,
      lastHandshake: iso(c?.lastHandshakeWallMs),
      rxBytes: c?.rxBytes ?? 0,
      txBytes: c?.txBytes ?? 0,
      rxPackets: c?.rxPackets ?? 0,
      txPackets: c?.txPackets ?? 0,
    };
  };
  const refusedOf = (id: string) => {
    const r = i.routes?.refused(id) ?? [];
    return r.length ? { refusedRoutes: r } : {};
  };
  const stats = (name: string) => ({ rttMs: null, rxBps: 0, txBps: 0, ...i.peerStats?.(name) });
  const mesh: PeerStatusRow[] = i.members
    .filter((m) => m.record !== undefined)
    .map((m) => {
      const key = i.memberKeys.get(m.id);
      const t = traffic(key);
      const tr = key === undefined ? undefined : i.transport?.(key);
      return {
        name: m.id,
        kind: 'mesh',
        state: m.state === 'dead' || m.admitted ? m.state : 'refused',
        publicKey: m.record!.publicKey,
        addresses: m.record!.addresses,
        method: tr?.method ?? 'wireguard',
        path: tr?.path ?? 'wireguard',
        ...t,
        endpoint: t.endpoint ?? m.record!.endpoints[0] ?? null,
        lastSeen: iso(m.lastSeen),
        ...stats(m.id),
        ...(m.record!.reach === 'outbound' && { reach: 'outbound' as const }),
        ...(noPathReason(i.self, m.record!) !== undefined && { note: noPathReason(i.self, m.record!)! }),
        ...(tr?.reason !== undefined && { note: tr.reason }),
        ...refusedOf(m.id),
      };
    });
  const statics: PeerStatusRow[] = i.config.wireguard.staticPeers.map((p) => ({
    name: p.name,
    kind: 'static',
    state: 'static',
    publicKey: p.publicKey,
    addresses: p.allowedIps,
    method: 'wireguard',
    ...traffic(p.publicKey),
    lastSeen: null,
    ...stats(p.name),
  }));
  return {
    node: {
      name: i.config.node.name,
      publicKey: i.self?.publicKey ?? null,
      addresses: i.config.node.addresses,
      endpoints: i.self?.endpoints ?? [],
      apiUrl: i.self?.apiUrl ?? null,
      reach: i.config.node.reach,
      engine: i.engine?.kind ?? null,
      ...(i.paddingMtu !== undefined ? { paddingMtu: i.paddingMtu } : {}),
      ...(i.routes && { routePolicyGrants: i.routes.policyGrants ?? null }),
      ...(i.self && refusedOf(i.self.id)),
      startedAt: new Date(i.startedAtMs).toISOString(),
      uptimeSec: Math.round((i.nowWallMs - i.startedAtMs) / 1000),
    },
    peers: [...mesh, ...statics].sort((a, b) => a.name.localeCompare(b.name)),
  };
}
