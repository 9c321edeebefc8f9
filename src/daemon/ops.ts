// The operator side of a running daemon: RTT through the mesh, traffic history, the event log, the
// dashboard's data, `tunmesh ping` and `tunmesh reload`. The daemon owns the components; this file
// owns what operators see of them, so the composition root stays small.
import { TunmeshError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { Secret } from '../base/secret.js';
import type { Config } from '../config/index.js';
import type { ControlClient } from '../control/client.js';
import { OperatorAuth } from '../control/operator-auth.js';
import { DashboardHandler } from '../control/routes/dashboard.js';
import type { HealthReport, OpsProvider } from '../control/routes/route.js';
import type { DataPlaneEngine, EngineEvent } from '../dataplane/engine.js';
import type { MemberStatus } from '../membership/membership.js';
import type { NodeRecord } from '../membership/record.js';
import { EventLog } from './events.js';
import {
  applyReload,
  describeConfigError,
  loadConfigForReload,
  readOperatorToken,
  type ReloadResult,
} from './reload.js';
import { refused, type KeyRotationResult, type RotationCheck } from './key-rotation.js';
import { RttMonitor } from './rtt.js';
import type { StatusReport } from './status.js';
import type { EndpointGuard } from './loop-guard.js';
import { buildTopology } from './topology.js';
import { TrafficSampler } from './traffic.js';

export interface OpsDeps {
  readonly log: Logger;
  readonly configPath: string | undefined;
  config(): Config;
  setConfig(c: Config): void;
  status(): StatusReport;
  health(): HealthReport;
  members(): readonly MemberStatus[];
  memberRecords(): readonly NodeRecord[];
  engine(): DataPlaneEngine | undefined;
  families(): ReadonlySet<4 | 6>;
  endpointGuard?(): EndpointGuard | undefined;
  client(): ControlClient | undefined;
  /** Live static-key rotation (daemon/key-rotation.ts); absent = refused. */
  rotateKey?(privateKey: Secret<Uint8Array>): KeyRotationResult;
  /** Why a rotation would be refused now (undefined: it would be accepted). */
  cannotRotateKey?(): Extract<KeyRotationResult, { ok: false }> | undefined;
  /** Advertised routes installed for member `id`, and a new route policy (daemon/advertised-routes.ts). */
  acceptedRoutes?(id: string): readonly string[];
  setRoutePolicy?(grants: Config['cluster']['routePolicy']): void;
}

const remoteCacheMs = 1000;

export class Ops implements OpsProvider {
  readonly eventLog = new EventLog();
  readonly rtt: RttMonitor;
  readonly traffic: TrafficSampler;
  readonly dashboard: DashboardHandler;
  readonly #d: OpsDeps;
  #auth: OperatorAuth | undefined;
  #token: Secret<string> | undefined;
  #dashboardOn = false;
  readonly #handshaken = new Set<string>();
  readonly #seen = new Set<string>();
  #remote: { at: number; data: Map<string, StatusReport> } | undefined;
  #remoteFetch: Promise<Map<string, StatusReport>> | undefined;

  constructor(d: OpsDeps) {
    this.#d = d;
    const c = d.config();
    this.rtt = new RttMonitor({ addresses: c.node.addresses, log: d.log });
    this.traffic = new TrafficSampler({
      rows: () => d.status().peers,
      rttMs: (name) => this.rtt.stats(name)?.avgMs ?? null,
    });
    this.dashboard = new DashboardHandler(
      {
        auth: () => this.#auth,
        enabled: () => this.#dashboardOn,
        overview: () => this.overview(),
        history: () => this.traffic.history(),
        events: (after) => this.eventLog.list(after),
      },
      d.log,
    );
  }

  /** Privileged part of the start: token and static files are read before the privilege drop. */
  async start(): Promise<void> {
    const c = this.#d.config();
    if (c.control.operatorTokenFile)
      this.setDashboard(await readOperatorToken(c.control.operatorTokenFile), c.control.dashboard);
    if (this.#dashboardOn) this.dashboard.preload();
    await this.rtt.start();
    this.traffic.start();
    this.eventLog.add('start', undefined, c.node.name);
  }

  stop(): void {
    this.rtt.stop();
    this.traffic.stop();
  }

  /** The operator token in force (the control server checks operator routes against it). */
  get operatorAuth(): OperatorAuth | undefined {
    return this.#auth;
  }

  setDashboard(token: Secret<string> | undefined, enabled: boolean): void {
    // A reload that re-reads the same token keeps the sessions; a new token (or none) ends them all.
    if (!token || !this.#auth?.tokenMatches(token.expose()))
      this.#auth = token ? new OperatorAuth({ token }) : undefined;
    this.#token = token;
    this.#dashboardOn = enabled && token !== undefined;
    if (this.#dashboardOn) this.dashboard.preload();
  }

  /** RTT and rates for the status rows. */
  peerStats(name: string): { rttMs: number | null; rxBps: number; txBps: number } {
    return { rttMs: this.rtt.stats(name)?.avgMs ?? null, ...(this.traffic.rates(name) ?? { rxBps: 0, txBps: 0 }) };
  }

  /** Keeps RTT targets in step with the admitted members. */
  membersChanged(): void {
    this.rtt.setTargets(new Map(this.#d.memberRecords().map((r) => [r.id, r.addresses])));
  }

  memberUp(id: string, fresh: boolean): void {
    this.#seen.add(id);
    this.membersChanged();
    if (fresh) this.eventLog.add('join', id);
  }

  memberDown(id: string, reason: string): void {
    this.#handshaken.delete(id);
    this.membersChanged();
    this.eventLog.add(reason === 'left' ? 'leave' : 'down', id, reason);
  }

  engineEvent(e: EngineEvent, peerName: string): void {
    if (e.type === 'handshake') {
      const first = !this.#handshaken.has(peerName);
      this.#handshaken.add(peerName);
      this.eventLog.add(first ? 'handshake' : 'rekey', peerName, e.role);
    } else this.eventLog.add('endpoint', peerName, `${e.endpoint.host}:${e.endpoint.port}`);
  }

  // --- OpsProvider ---

  events(after: number): unknown {
    return this.eventLog.list(after);
  }

  peers(): unknown {
    return this.#d.status().peers;
  }

  async ping(node: string, count: number, timeoutMs: number): Promise<unknown> {
    const row = this.#d
      .status()
      .peers.find((p) => p.name === node || p.addresses.some((a) => a.split('/')[0] === node));
    if (!row)
      throw new TunmeshError('NOT_FOUND', `no peer named ${node}`, {
        hint: '`tunmesh peers` lists the names and overlay addresses this node knows',
      });
    // Asked by overlay address: probe that one (an IPv6 address is pinged over IPv6), else the first.
    const byAddress = row.addresses.map((a) => a.split('/')[0]!).includes(node);
    const rtts: (number | null)[] = [];
    for (let i = 0; i < count; i++) {
      const ms = byAddress ? await this.rtt.probe(node, timeoutMs) : await this.rtt.probePeer(row.addresses, timeoutMs);
      rtts.push(ms === undefined ? null : Math.round(ms * 1000) / 1000);
    }
    const ok = rtts.filter((x): x is number => x !== null);
    return {
      node: row.name,
      address: byAddress ? node : (row.addresses[0]?.split('/')[0] ?? null),
      method: row.method,
      sent: count,
      received: ok.length,
      rttMs: rtts,
      minMs: ok.length ? Math.min(...ok) : null,
      avgMs: ok.length ? Math.round((ok.reduce((a, b) => a + b, 0) / ok.length) * 1000) / 1000 : null,
      maxMs: ok.length ? Math.max(...ok) : null,
    };
  }

  async reload(): Promise<unknown> {
    const path = this.#d.configPath;
    if (!path)
      return { ok: false, error: 'this daemon was started without a config file path; restart it to change settings' };
    let next: Config;
    try {
      next = await loadConfigForReload(path);
    } catch (e) {
      const hint = (e as { hint?: string }).hint;
      const error = describeConfigError(e);
      this.#d.log.warn({ err: error }, 'reload refused: the config file is invalid');
      return {
        ok: false,
        error,
        hint: hint ?? `fix the file (\`tunmesh config check ${path}\`), then reload again; the node runs unchanged`,
      };
    }
    const engine = this.#d.engine();
    const { config, result } = await applyReload(this.#d.config(), next, {
      log: this.#d.log,
      engine,
      families: this.#d.families(),
      endpointGuard: this.#d.endpointGuard?.(),
      memberRecords: () => this.#d.memberRecords(),
      setDashboard: (t, on) => this.setDashboard(t, on),
      acceptedRoutes: this.#d.acceptedRoutes && ((id) => this.#d.acceptedRoutes!(id)),
      setRoutePolicy: this.#d.setRoutePolicy && ((g) => this.#d.setRoutePolicy!(g)),
    });
    this.#d.setConfig(config);
    const r: ReloadResult & { ok: boolean } = { ok: result.errors.length === 0, ...result };
    this.eventLog.add('reload', undefined, summary(result));
    this.#d.log.info(r, 'config reloaded');
    return r;
  }

  async rotateKey(
    privateKey: Secret<Uint8Array> | undefined,
    operatorToken: Secret<string>,
  ): Promise<KeyRotationResult | RotationCheck> {
    let r: KeyRotationResult;
    if (!this.#auth)
      r = refused(
        'this node has no operator token, which a key rotation requires',
        'set control.operatorTokenFile (`tunmesh secret generate --out FILE`), `tunmesh reload`, then rotate again',
      );
    else if (!this.#auth.tokenMatches(operatorToken.expose()))
      r = {
        ok: false,
        code: 'AUTH_FAILED',
        error: 'the operator token does not match this node’s',
        hint: 'use the config of this node (its control.operatorTokenFile)',
      };
    else if (!this.#d.rotateKey) r = refused('this daemon cannot rotate its key live', 'restart it with the new key');
    else if (!privateKey) return this.#d.cannotRotateKey?.() ?? { ok: true, check: true };
    else r = this.#d.rotateKey(privateKey);
    if (!r.ok) {
      this.#d.log.warn({ code: r.code, err: r.error }, 'key rotation refused');
      return r;
    }
    this.eventLog.add('key', undefined, `rotated: ${r.previousPublicKey} -> ${r.publicKey}`);
    // Static peers know this node by the key in their own config: only their operators can update it.
    const staticPeers = this.#d.config().wireguard.staticPeers.map((p) => p.name);
    return staticPeers.length ? { ...r, staticPeers } : r;
  }

  // --- dashboard data ---

  async overview(): Promise<unknown> {
    const own = this.#d.status();
    const remote = await this.#remoteStatuses(own);
    return {
      generatedAt: new Date().toISOString(),
      node: own.node,
      health: this.#d.health(),
      topology: buildTopology(own, remote, this.#seen, Date.now()),
      peers: own.peers,
    };
  }

  /**
   * Other nodes' statuses, at most a second or so old. Never waits for them: a node that just died
   * would hold every dashboard refresh for a request timeout, so the last answers are used while new
   * ones are fetched in the background.
   */
  #remoteStatuses(own: StatusReport): Promise<Map<string, StatusReport>> {
    const stale = !this.#remote || Date.now() - this.#remote.at >= remoteCacheMs;
    if (stale) this.#remoteFetch ??= this.#fetchRemote(own).finally(() => (this.#remoteFetch = undefined));
    if (this.#remote) return Promise.resolve(this.#remote.data);
    // The very first overview waits once, so the first picture already has every link.
    return this.#remoteFetch!;
  }

  async #fetchRemote(own: StatusReport): Promise<Map<string, StatusReport>> {
    const client = this.#d.client();
    const alive = new Set(own.peers.filter((p) => p.state === 'alive').map((p) => p.name));
    const members = this.#d.members().filter((m) => alive.has(m.id) && m.record?.apiUrl);
    const timeoutMs = Math.min(1500, this.#d.config().membership.requestTimeoutMs);
    const data = new Map<string, StatusReport>();
    await Promise.all(
      members.map(async (m) => {
        try {
          const res = await client?.request(m.record!.apiUrl, {
            method: 'GET',
            path: '/v1/status',
            to: m.id,
            timeoutMs,
            // Status is an operator route: other nodes show their links when they share this token.
            operatorToken: this.#token,
          });
          if (res) data.set(m.id, res.body as StatusReport);
        } catch {
          // Unreachable right now: the node shows as not reachable, its own links are unknown.
        }
      }),
    );
    this.#remote = { at: Date.now(), data };
    return data;
  }
}

function summary(r: ReloadResult): string {
  const parts = [
    r.applied.length ? `applied ${r.applied.join(', ')}` : 'nothing to apply live',
    ...(r.restartRequired.length ? [`restart needed for ${r.restartRequired.join(', ')}`] : []),
    ...(r.errors.length ? [`${r.errors.length} error(s)`] : []),
  ];
  return parts.join('; ');
}
