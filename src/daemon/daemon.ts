// The composition root: builds every component from the config, starts them in order (privileged setup
// first, then the privilege drop, then joining the mesh) and stops them in reverse.
import { net } from '../base/constants.js';
import type { Logger } from '../base/log.js';
import type { Secret } from '../base/secret.js';
import { encodeKey, publicKeyOf } from '../crypto/keys.js';
import { parseHostPort, type Config } from '../config/index.js';
import type { Secrets } from '../config/secrets.js';
import { maskAddress, parseCidr as parseWireCidr } from '../wire/ip.js';
import { ControlClient } from '../control/client.js';
import { MetricsListener } from '../control/metrics-listener.js';
import { ControlServer } from '../control/server.js';
import { HttpsTransport } from '../control/transport.js';
import type { HealthReport } from '../control/routes/route.js';
import type { DataPlaneEngine } from '../dataplane/engine.js';
import { JsEngine } from '../dataplane/js-engine.js';
import { NativeHost } from '../dataplane/native-host.js';
import { Membership } from '../membership/membership.js';
import type { NodeRecord } from '../membership/record.js';
import { recordAuth } from '../membership/record-auth.js';
import { Metrics } from '../metrics/registry.js';
import { WgDevice } from '../noise/device.js';
import { HandshakeLoadMeter } from '../noise/load-meter.js';
import type {
  Clock,
  DatagramSocket,
  DatagramSocketFactory,
  NetConfig,
  Random,
  TunDevice,
  TunFactory,
  RouteMtuSource,
  RouteMtuWatch,
} from '../platform/ports.js';
import { paddingMtuFor, watchPaddingMtu } from './padding-mtu.js';
import { withResolvedAddresses } from './addresses.js';
import { dnsAllowList, DnsResponder } from './dns.js';
import { tunExtrasDown, tunExtrasUp } from './tun-setup.js';
import { attachExistingTun, type LinkStateReader } from './existing-tun.js';
import { Fanout } from '../routing/fanout.js';
import { endpointGuard, tunnelPrefixes, type EndpointGuard } from './loop-guard.js';
import { specFromRecord, specsFromStaticPeers } from './peers.js';
import { AdvertisedRoutes } from './advertised-routes.js';
import { dropPrivileges } from './privilege.js';
import { FailedPeerRetention } from './retention.js';
import { cannotRotate, rotateNodeKey, type KeyRotationResult, type KeyRotationTarget } from './key-rotation.js';
import { MemberEndpoints, effectiveKeepaliveSec } from './nat.js';
import { SelfAddressWatcher, advertisedApiUrl, advertisedEndpoints, selfRecord } from './self-record.js';
import { buildStatus, type StatusReport } from './status.js';
import { Ops } from './ops.js';
import { readTokenFile } from './reload.js';
import { TransportWiring } from './transport.js';

export interface Platform {
  readonly tun: TunFactory;
  readonly net: NetConfig;
  readonly udp: DatagramSocketFactory;
  readonly clock: Clock;
  readonly random: Random;
  /** Routes into the TUN with a smaller MTU bound padding (R28); absent: the tunnel MTU alone. */
  readonly routeMtu?: RouteMtuSource;
  /** Reads a device's state without privilege, for tun.existing; absent: tun.existing is refused. */
  readonly linkState?: LinkStateReader;
}

export interface DaemonOptions {
  readonly config: Config;
  readonly secrets: Secrets;
  readonly platform: Platform;
  readonly log: Logger;
  readonly version: string;
  /** Tests run daemons as root in one process and skip the drop. */
  readonly dropPrivileges?: boolean;
  /** The config file, re-read by `tunmesh reload` / SIGHUP; without it reload is refused. */
  readonly configPath?: string;
}

export class Daemon {
  readonly metrics: Metrics;
  /** Not readonly: a reload replaces `config` with the settings now in force (daemon/reload.ts). */
  #o: DaemonOptions;
  readonly #log: Logger;
  readonly #startedAt: number;
  #tun: TunDevice | undefined;
  #udp: DatagramSocket | undefined;
  #engine: DataPlaneEngine | undefined;
  #client: ControlClient | undefined;
  #server: ControlServer | undefined;
  #metricsListener: MetricsListener | undefined;
  #membership: Membership | undefined;
  #self: NodeRecord | undefined;
  /** Mesh member id -> the public key its data-plane peer was installed with. */
  readonly #memberKeys = new Map<string, string>();
  /** Mesh member id -> epoch of the record its peer was installed from. */
  readonly #memberEpochs = new Map<string, number>();
  #families = new Set<4 | 6>();
  #endpointGuard: EndpointGuard | undefined;
  #stopping = false;
  #ops: Ops | undefined;
  #dns: DnsResponder | undefined;
  #fanout: Fanout | undefined;
  #retention: FailedPeerRetention | undefined;
  #transport: TransportWiring | undefined;
  /** What each member's peer was installed from (daemon/nat.ts: roamed endpoints survive record updates). */
  readonly #memberEndpoints: MemberEndpoints;
  #selfWatcher: SelfAddressWatcher | undefined;
  /** Which advertised routes of each member are installed (cluster.routePolicy and P11). */
  #routes: AdvertisedRoutes | undefined;
  #paddingWatch: RouteMtuWatch | undefined;

  private constructor(o: DaemonOptions) {
    this.#o = o;
    this.#log = o.log;
    this.#startedAt = o.platform.clock.wallNow();
    this.metrics = new Metrics({ defaultMetrics: true });
    this.#memberEndpoints = new MemberEndpoints(o.log);
  }

  static async start(o: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(o);
    try {
      await d.#start();
    } catch (e) {
      await d.stop().catch(() => undefined);
      throw e;
    }
    return d;
  }

  async #start(): Promise<void> {
    // Pool IPv4 / derived IPv6 (routing/addressing.ts) are resolved before anything uses node.addresses.
    this.#o = {
      ...this.#o,
      config: await withResolvedAddresses({
        config: this.#o.config,
        secret: this.#o.secrets.cluster,
        publicKey: publicKeyOf(this.#o.secrets.privateKey.expose()),
        log: this.#log,
      }),
    };
    const { config, secrets, platform } = this.#o;
    const log = this.#log;
    const publicKey = encodeKey(publicKeyOf(secrets.privateKey.expose()));
    this.metrics.set('build_info', { version: this.#o.version, engine: config.dataplane.engine }, 1);

    // Privileged setup: TUN device, addresses, routes, sockets. The native engine owns both devices.
    const native =
      config.dataplane.engine === 'native' ? NativeHost.tryCreate({ mtu: config.tun.mtu, log }) : undefined;
    const tunFactory = native?.tun ?? platform.tun;
    // tun.existing: the device is someone else's to configure; we only check it and attach (no privilege).
    const tun = config.tun.existing
      ? await attachExistingTun({
          config,
          tun: tunFactory,
          linkState: platform.linkState,
          extraRoutes: this.#staticRoutes(),
          log,
        })
      : await tunFactory.open(config.tun.name);
    this.#tun = tun;
    if (!config.tun.existing) {
      await platform.net.setMtu(tun.name, config.tun.mtu);
      for (const a of config.node.addresses) await platform.net.addAddress(tun.name, a);
      await platform.net.setUp(tun.name);
      for (const cidr of this.#staticRoutes()) await platform.net.addRoute(tun.name, cidr);
      for (const cidr of config.tun.routes) await platform.net.addRoute(tun.name, cidr);
    }
    await tunExtrasUp(config, platform.net, log);
    // R30: endpoints routed into the TUN would loop; refuse them, count them, warn once per peer+endpoint.
    const warned = new Set<string>();
    this.#endpointGuard = endpointGuard(tunnelPrefixes(config), (peer, endpoint) => {
      this.metrics.inc('endpoints_refused_total');
      const key = `${peer} ${endpoint.host}:${endpoint.port}`;
      if (warned.has(key) || warned.size > 1000) return;
      warned.add(key);
      log.warn({ peer, endpoint }, 'endpoint refused: this node routes it into its own tunnel (routing loop)');
    });

    const listen = parseHostPort(config.wireguard.listen, { allowPortZero: true })!;
    const udp = await (native?.udp ?? platform.udp).bind(listen.host, listen.port);
    this.#udp = udp;
    this.#families = new Set(listen.host.includes(':') ? (listen.host === '::' ? [4, 6] : [6]) : [4]);

    const testRekeyMs = Number(process.env.TUNMESH_TEST_REKEY_AFTER_MS ?? 0);
    const device = new WgDevice({
      privateKey: secrets.privateKey,
      random: (n) => platform.random.bytes(n),
      wallClockMs: () => platform.clock.wallNow(),
      mtu: config.tun.mtu,
      // Cookies and per-source rate limits engage when handshakes arrive faster than 128/s.
      loadMeter: new HandshakeLoadMeter(),
      // Test-only: rekey tests shorten the session lifetime; never set in production.
      limits: testRekeyMs > 0 ? { rekeyAfterTimeMs: testRekeyMs } : undefined,
    });
    const fanout = new Fanout({ ...config.routing, addresses: config.node.addresses });
    this.#fanout = fanout;
    // Groups local applications join are published in this node's record.
    fanout.onLocalGroups((groups) => this.#membership?.updateSelf({ groups }));
    const engine = native
      ? native.engine({ device, clock: platform.clock, metrics: this.metrics, log, fanout })
      : new JsEngine({ tun, udp, device, clock: platform.clock, metrics: this.metrics, log, fanout });
    this.#engine = engine;
    engine.onEvent((e) => {
      this.#ops?.engineEvent(e, this.#peerName(e.peer));
      if (e.type === 'handshake') log.debug({ peer: this.#peerName(e.peer), role: e.role }, 'handshake complete');
      else log.info({ peer: this.#peerName(e.peer), endpoint: e.endpoint }, 'peer endpoint changed');
    });
    engine.start();
    for (const spec of specsFromStaticPeers(config, secrets.staticPeerPsks, this.#endpointGuard))
      engine.upsertPeer(spec);
    // Transport methods (wireguard, tls, null), fallback to the tls stream and recovery (src/transport/).
    this.#transport = await TransportWiring.create({
      config,
      secret: secrets.cluster,
      engine,
      selfKey: publicKeyOf(secrets.privateKey.expose()),
      clock: platform.clock,
      random: platform.random,
      metrics: this.metrics,
      log,
      recordOf: (k) => this.#recordOf(k),
      peerName: (k) => this.#peerName(k),
      onSwitch: (peer, from, to) => this.#ops?.eventLog.add('fallback', peer, `${from} -> ${to}`),
    });
    this.#transport.mux.start();
    this.#exportPeerCounters();

    // Control plane.
    const trust = config.control.tls.caFile ?? config.control.tls.certFile;
    this.#client = await ControlClient.create({
      nodeId: config.node.name,
      secret: secrets.cluster,
      trust,
      checkHostname: config.control.tls.verifyHostname,
      timeoutMs: config.membership.requestTimeoutMs,
      metrics: this.metrics,
      logger: log,
    });
    // Operator side (RTT echo on the overlay addresses, events, dashboard): before the privilege drop.
    this.#ops = new Ops({
      log,
      configPath: this.#o.configPath,
      config: () => this.#o.config,
      setConfig: (c) => (this.#o = { ...this.#o, config: c }),
      status: () => this.status(),
      health: () => this.health(),
      members: () => this.#membership?.members() ?? [],
      // Installed peers: live members, and failed ones kept while their traffic still arrives.
      memberRecords: () =>
        this.#membership
          ?.members()
          // A pair with no common transport method has no data-plane peer: reload must not install one.
          .filter(
            (m) => m.record && this.#memberKeys.has(m.id) && this.#transport?.negotiate(m.record).method !== 'none',
          )
          .map((m) => m.record!) ?? [],
      engine: () => this.#engine,
      families: () => this.#families,
      endpointGuard: () => this.#endpointGuard,
      client: () => this.#client,
      rotateKey: (k) => this.#rotateKey(k),
      cannotRotateKey: () => cannotRotate(this.#rotationTarget()),
      acceptedRoutes: (id) => this.#routes?.accepted(id) ?? [],
      setRoutePolicy: (grants) => this.#reinstall(this.#routes?.setPolicy(grants) ?? []),
    });
    await this.#ops.start();
    // Port 53 needs privileges: bind before the drop.
    if (config.dns.enabled)
      this.#dns = await DnsResponder.start(
        { ...config.dns, allow: dnsAllowList(config) },
        (n) => this.#meshAddresses(n),
        log,
        {
          refused: () => this.metrics.inc('dns_queries_refused_total'),
          replyIgnored: () => this.metrics.inc('dns_replies_ignored_total'),
        },
      );
    const apiListen = parseHostPort(config.control.listen, { allowPortZero: true })!;
    // Read before the privilege drop, like the operator token; a new one needs a restart.
    const scrapeToken = config.control.metricsTokenFile
      ? await readTokenFile(config.control.metricsTokenFile, 'control.metricsTokenFile')
      : undefined;
    // The record is needed by the server's handlers, but its API URL by the bound port: create the
    // membership lazily through the providers below, after the server is listening.
    const server = new ControlServer({
      nodeId: config.node.name,
      secret: secrets.cluster,
      tls: { cert: config.control.tls.certFile, key: config.control.tls.keyFile },
      host: apiListen.host,
      port: apiListen.port,
      metrics: this.metrics,
      logger: log,
      dashboard: this.#ops.dashboard,
      operatorAuth: () => this.#ops?.operatorAuth,
      scrapeToken: () => scrapeToken,
      metricsOnApi: config.control.metricsListen === undefined,
      streams: (from, socket) => {
        const key = this.#memberKeys.get(from);
        return key !== undefined && this.#transport !== undefined && this.#transport.mux.acceptStream(key, socket);
      },
      providers: {
        health: () => this.health(),
        metricsText: () => this.metrics.text(),
        status: () => this.status(),
        ops: this.#ops,
        membership: {
          self: () => this.#mustMembership().self(),
          handleJoin: (r, from) => this.#mustMembership().handleJoin(r, from),
          handleGossip: (m, from) => this.#mustMembership().handleGossip(m, from),
        },
      },
    });
    this.#server = server;
    const bound = await server.start();
    if (config.control.metricsListen) {
      const ml = parseHostPort(config.control.metricsListen, { allowPortZero: true })!;
      this.#metricsListener = new MetricsListener({
        host: ml.host,
        port: ml.port,
        metricsText: () => this.metrics.text(),
        token: scrapeToken,
      });
      const m = await this.#metricsListener.start();
      log.info({ listen: `${m.host}:${m.port}` }, 'serving /metrics on its own address');
    }
    const apiUrl = advertisedApiUrl(config, bound.port);
    const self = selfRecord(
      config,
      publicKey,
      platform.clock.wallNow(),
      advertisedEndpoints(config, udp.localPort(), apiUrl),
      apiUrl,
    );
    this.#self = self;
    this.#routes = new AdvertisedRoutes({
      self,
      policy: config.cluster.routePolicy,
      metrics: this.metrics,
      log,
      clock: platform.clock,
    });

    if (this.#o.dropPrivileges !== false) dropPrivileges(config.process, log);
    // After the drop: reading routes needs no privilege, and the `ip monitor` child runs unprivileged.
    this.#paddingWatch = await watchPaddingMtu({
      source: platform.routeMtu,
      device: tun.name,
      tunMtu: config.tun.mtu,
      engine,
      metrics: this.metrics,
      log,
    });

    const membership = new Membership({
      self,
      auth: recordAuth(secrets.privateKey.expose()),
      options: config.membership,
      transport: new HttpsTransport(this.#client),
      clock: platform.clock,
      bootstrap: config.cluster.bootstrap,
      logger: log,
      metrics: this.metrics,
    });
    this.#membership = membership;
    membership.on('up', (r) => this.#memberUp(r));
    membership.on('update', (r) => this.#memberUp(r));
    membership.on('down', (id, reason) => this.#memberDown(id, reason));
    this.#retention = new FailedPeerRetention({
      clock: platform.clock,
      quietMs: Math.min(net.failedPeerQuietMs, config.membership.failureTimeoutMs),
      rxBytes: (k) => this.#engine?.counters(k)?.rxBytes,
      installed: () => this.#memberKeys.entries(),
      remove: (id, reason) => this.#removeMember(id, reason),
      log,
    });
    this.#retention.start();
    membership.start();
    // A node that derives its endpoints / API URL announces new ones when its underlay address changes.
    if (SelfAddressWatcher.needed(config)) {
      this.#selfWatcher = new SelfAddressWatcher({
        initial: { endpoints: self.endpoints, apiUrl },
        derive: () => {
          const url = advertisedApiUrl(config, bound.port);
          return { apiUrl: url, endpoints: advertisedEndpoints(config, udp.localPort(), url) };
        },
        clock: platform.clock,
        log,
        onChange: (next, prev) => {
          log.info({ endpoints: next.endpoints, apiUrl: next.apiUrl, was: prev }, 'underlay address changed');
          membership.updateSelf({ endpoints: [...next.endpoints], apiUrl: next.apiUrl });
        },
      });
      this.#selfWatcher.start();
    }
    log.info(
      { publicKey, addresses: self.addresses, endpoints: self.endpoints, apiUrl, engine: engine.kind },
      'tunmesh node started',
    );
  }

  /** Overlay addresses (bare) of the live, admitted node called `name` (this node included), for DNS. */
  #meshAddresses(name: string): string[] | undefined {
    const bare = (r: NodeRecord) => r.addresses.map((a) => a.split('/')[0]!);
    if (this.#self && this.#self.id.toLowerCase() === name) return bare(this.#self);
    const m = this.#membership
      ?.members()
      .find((x) => x.id.toLowerCase() === name && x.state !== 'dead' && x.admitted && x.record);
    return m?.record ? bare(m.record) : undefined;
  }

  #mustMembership(): Membership {
    if (!this.#membership) throw new Error('membership is not running yet');
    return this.#membership;
  }

  /** Static peers' allowed IPs outside the mesh prefixes need a route into the TUN. */
  #staticRoutes(): string[] {
    const { config } = this.#o;
    const meshPrefixes = config.node.addresses.map((a) => parseWireCidr(a)!);
    const covered = (cidr: string): boolean => {
      const c = parseWireCidr(cidr);
      if (!c) return true;
      return meshPrefixes.some(
        (m) =>
          m.addr.length === c.addr.length &&
          m.prefixLength <= c.prefixLength &&
          Buffer.from(maskAddress(c.addr, m.prefixLength)).equals(Buffer.from(m.addr)),
      );
    };
    return config.wireguard.staticPeers.flatMap((p) => p.allowedIps).filter((c) => !covered(c));
  }

  #memberUp(r: NodeRecord): void {
    this.#retention?.release(r.id);
    // Its addresses may withdraw (or free) routes of others that cover them: those peers are installed again.
    const others = this.#routes?.member(r.id, r) ?? [];
    this.#installMember(r);
    this.#reinstall(others);
  }

  /** Installs members' peers again with the routes now accepted for them (same keys: sessions are kept). */
  #reinstall(records: readonly NodeRecord[]): void {
    for (const r of records) if (this.#memberKeys.has(r.id)) this.#installMember(r);
  }

  #installMember(r: NodeRecord): void {
    const routes = this.#routes?.accepted(r.id) ?? [];
    const spec = specFromRecord(r, routes, this.#families, effectiveKeepaliveSec(this.#o.config), this.#endpointGuard);
    if (!spec) {
      this.#log.warn({ peer: r.id }, 'ignoring node record with an invalid public key, address or route');
      return;
    }
    const previous = this.#memberKeys.get(r.id);
    // A restarted node (new epoch) lost its sessions even if it kept its key: start the peer afresh so we
    // handshake at once instead of sending into keys it no longer has.
    const restarted = this.#memberEpochs.get(r.id) !== r.epoch;
    const method = this.#transport?.negotiate(r);
    const none = method?.method === 'none';
    if (previous !== undefined && (previous !== spec.publicKey || restarted || none)) {
      this.#engine?.removePeer(previous);
      this.#fanout?.removePeer(previous);
      if (previous !== spec.publicKey) this.#transport?.mux.removePeer(previous);
    }
    const fresh = previous === undefined || previous !== spec.publicKey || restarted;
    const plan = this.#memberEndpoints.plan(this.#membership?.self() ?? this.#self, r, spec, fresh);
    // No common transport method: the peer is not installed; status and metrics say `none` and why.
    if (!none && (!plan.unchanged || this.#engine?.counters(spec.publicKey) === undefined))
      this.#engine?.upsertPeer(plan.spec);
    if (method) this.#transport?.mux.setPeer(spec.publicKey, method);
    this.#fanout?.setPeer(spec.publicKey, r.groups ?? []);
    this.#memberKeys.set(r.id, spec.publicKey);
    this.#memberEpochs.set(r.id, r.epoch);
    this.#ops?.memberUp(r.id, previous === undefined || restarted);
    // A node that just (re)started or changed its key may have sent us a handshake before we knew its new
    // record (dropped: unknown key) and would retry only after 5 s: handshake with it now (R38).
    if (!none && fresh && (previous !== undefined || Date.now() - r.epoch < net.greetFreshMemberMs))
      this.#engine?.greet(spec.publicKey);
    if (previous === undefined || restarted)
      this.#log.info({ peer: r.id, addresses: r.addresses, endpoint: spec.endpoint }, 'peer up');
    // A live key rotation: the old key's peer and sessions are gone (the revocation), the new key handshakes.
    else if (previous !== spec.publicKey)
      this.#log.info({ peer: r.id, publicKey: spec.publicKey, previousPublicKey: previous }, 'peer key changed');
  }

  #memberDown(id: string, reason: string): void {
    this.#reinstall(this.#routes?.member(id, undefined) ?? []);
    const key = this.#memberKeys.get(id);
    if (key === undefined) return;
    if (reason === 'failed' && this.#retention?.retain(id, key)) return;
    this.#removeMember(id, reason);
  }

  #removeMember(id: string, reason: string): void {
    const key = this.#memberKeys.get(id);
    if (key === undefined) return;
    this.#retention?.release(id);
    this.#memberKeys.delete(id);
    this.#memberEpochs.delete(id);
    this.#memberEndpoints.forget(id);
    this.#engine?.removePeer(key);
    this.#transport?.mux.removePeer(key);
    this.#fanout?.removePeer(key);
    this.#ops?.memberDown(id, reason);
    this.#log.info({ peer: id, reason }, 'peer removed');
  }

  #recordOf(publicKey: string): NodeRecord | undefined {
    for (const [id, k] of this.#memberKeys)
      if (k === publicKey) return this.#membership?.members().find((m) => m.id === id)?.record;
    return undefined;
  }

  #peerName(publicKey: string): string {
    for (const [id, k] of this.#memberKeys) if (k === publicKey) return id;
    return this.#o.config.wireguard.staticPeers.find((p) => p.publicKey === publicKey)?.name ?? publicKey;
  }

  #exportPeerCounters(): void {
    const rows = (pick: 'rxBytes' | 'txBytes' | 'rxPackets' | 'txPackets') =>
      function* (this: Daemon): Generator<[{ peer: string }, number]> {
        for (const p of this.status().peers) yield [{ peer: p.name }, p[pick]];
      }.bind(this);
    this.metrics.collectFrom('peer_rx_bytes_total', rows('rxBytes'));
    this.metrics.collectFrom('peer_tx_bytes_total', rows('txBytes'));
    this.metrics.collectFrom('peer_rx_packets_total', rows('rxPackets'));
    this.metrics.collectFrom('peer_tx_packets_total', rows('txPackets'));
    this.metrics.collectFrom('peers', () => {
      const counts = new Map<string, number>([
        ['alive', 0],
        ['suspect', 0],
        ['dead', 0],
      ]);
      for (const m of this.#membership?.members() ?? []) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
      return [...counts].map(([state, n]) => [{ state }, n] as [{ state: string }, number]);
    });
  }

  health(): HealthReport {
    const m = this.#membership?.health();
    const parts = {
      tun: { ok: this.#tun !== undefined, device: this.#tun?.name },
      dataplane: { ok: this.#engine !== undefined && !this.#stopping, engine: this.#engine?.kind },
      control: { ok: this.#server !== undefined },
      membership: { ok: !!m && m.running && m.joined, joined: m?.joined ?? false, members: m?.members ?? 0 },
    };
    return { ok: Object.values(parts).every((p) => p.ok), ...parts };
  }

  status(): StatusReport {
    return buildStatus({
      config: this.#o.config,
      self: this.#membership?.self() ?? this.#self,
      startedAtMs: this.#startedAt,
      nowWallMs: this.#o.platform.clock.wallNow(),
      engine: this.#engine,
      paddingMtu: paddingMtuFor(this.#o.config.tun.mtu, this.#paddingWatch?.current()),
      members: this.#membership?.members() ?? [],
      memberKeys: this.#memberKeys,
      peerStats: (name) => this.#ops?.peerStats(name),
      transport: (key) => this.#transport?.mux.status(key),
      routes: this.#routes,
    });
  }

  /** Live static-key rotation (daemon/key-rotation.ts): the new key is in force when this returns. */
  #rotateKey(privateKey: Secret<Uint8Array>): KeyRotationResult {
    const r = rotateNodeKey(this.#rotationTarget(), privateKey);
    if (r.ok) this.#o = { ...this.#o, secrets: { ...this.#o.secrets, privateKey } };
    return r;
  }

  #rotationTarget(): KeyRotationTarget {
    return { log: this.#log, engine: this.#engine, transport: this.#transport, membership: this.#membership };
  }

  /** Applies the config file's live settings (SIGHUP; `tunmesh reload` goes through the API). */
  reload(): Promise<unknown> {
    return this.#ops?.reload() ?? Promise.resolve({ ok: false, error: 'the daemon is not running' });
  }

  /** Leaves the mesh politely, then closes everything; the TUN device disappears with its fd. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#selfWatcher?.stop();
    await this.#paddingWatch?.stop();
    await this.#membership?.stop({ leave: true }).catch(() => undefined);
    this.#retention?.stop();
    await this.#server?.stop().catch(() => undefined);
    await this.#metricsListener?.stop().catch(() => undefined);
    this.#client?.close();
    this.#ops?.stop();
    this.#dns?.close();
    this.#transport?.mux.stop();
    await this.#engine?.stop();
    if (this.#tun) await tunExtrasDown(this.#o.config, this.#log);
    await this.#udp?.close().catch(() => undefined);
    await this.#tun?.close().catch(() => undefined);
    this.#log.info('tunmesh node stopped');
  }
}
