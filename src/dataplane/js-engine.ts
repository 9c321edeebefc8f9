// The reference engine: the WireGuard core in TypeScript over the platform ports. Inside = the TUN
// (local applications), outside = the UDP underlay.
import type { Logger } from '../base/log.js';
import type { Metrics } from '../metrics/registry.js';
import type { DropReason } from '../metrics/table.js';
import type { WgAction } from '../noise/actions.js';
import type { WgDevice } from '../noise/device.js';
import type { Clock, DatagramSocket, Timer, TunDevice } from '../platform/ports.js';
import type { Fanout } from '../routing/fanout.js';
import { ExitSets, flowHash, isExitOf, pickExit, routeValue, type MultiExit } from '../routing/exits.js';
import { AllowedIps } from './allowed-ips.js';
import type { DataPlaneEngine, EngineEvent, PeerCounters, PeerSpec } from './engine.js';
import { DropCounter } from './drop-counter.js';
import { innerDestination, innerSource } from './inner-address.js';

const tickIntervalMs = 100;

export interface JsEngineDeps {
  readonly tun: TunDevice;
  readonly udp: DatagramSocket;
  readonly device: WgDevice;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Broadcast / multicast decisions for packets no unicast route covers (routing/fanout.ts). */
  readonly fanout?: Fanout;
}

export class JsEngine implements DataPlaneEngine {
  readonly kind = 'js' as const;
  readonly #d: JsEngineDeps;
  /** A CIDR maps to its one peer, or to a MultiExit when several peers advertise it (routing/exits.ts). */
  readonly #routes = new AllowedIps<string | MultiExit>();
  readonly #exits = new ExitSets();
  readonly #peers = new Map<string, PeerSpec>();
  readonly #drops: DropCounter;
  readonly #handlers: ((e: EngineEvent) => void)[] = [];
  #timer: Timer | undefined;
  #running = false;

  constructor(deps: JsEngineDeps) {
    this.#d = deps;
    this.#drops = new DropCounter(deps.metrics);
  }

  start(): void {
    this.#running = true;
    this.#d.tun.onPackets((packets) => {
      for (const p of packets) this.#insideToOutside(p);
    });
    this.#d.udp.onMessage((dg) => this.#run(this.#d.device.receive(dg.data, dg.from, this.#d.clock.now())));
    const tick = (): void => {
      if (!this.#running) return;
      this.#run(this.#d.device.tick(this.#d.clock.now()));
      this.#drops.flush();
      this.#timer = this.#d.clock.after(tickIntervalMs, tick);
    };
    tick();
  }

  upsertPeer(spec: PeerSpec): void {
    const old = this.#peers.get(spec.publicKey);
    const cfg = {
      endpoint: spec.endpoint,
      presharedKey: spec.presharedKey,
      persistentKeepaliveSec: spec.persistentKeepaliveSec,
    };
    if (old) {
      this.#d.device.updatePeer(spec.publicKey, cfg);
      this.#withdraw(old);
    } else {
      this.#d.device.addPeer({ publicKey: Buffer.from(spec.publicKey, 'base64'), ...cfg });
    }
    for (const cidr of spec.allowedIps) this.#setRoute(cidr, this.#exits.add(cidr, spec.publicKey));
    this.#peers.set(spec.publicKey, spec);
  }

  removePeer(publicKey: string): void {
    const old = this.#peers.get(publicKey);
    if (!old) return;
    this.#peers.delete(publicKey);
    this.#withdraw(old);
    this.#d.device.removePeer(publicKey);
  }

  /** Removes the peer as an exit of each of its CIDRs; a CIDR another peer also routes stays with that one. */
  #withdraw(spec: PeerSpec): void {
    for (const cidr of spec.allowedIps) this.#setRoute(cidr, this.#exits.remove(cidr, spec.publicKey));
  }

  #setRoute(cidr: string, exits: readonly string[]): void {
    const v = routeValue(cidr, exits);
    if (v === undefined) this.#routes.remove(cidr);
    else this.#routes.insert(cidr, v);
  }

  counters(publicKey: string): PeerCounters | undefined {
    const s = this.#d.device.peerStatus(publicKey);
    if (!s) return undefined;
    return {
      rxBytes: s.rxBytes,
      txBytes: s.txBytes,
      rxPackets: s.rxPackets,
      txPackets: s.txPackets,
      lastHandshakeWallMs: s.lastHandshakeWallMs,
      endpoint: s.endpoint,
    };
  }

  onEvent(handler: (e: EngineEvent) => void): void {
    this.#handlers.push(handler);
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#timer?.cancel();
    this.#drops.flush();
  }

  #insideToOutside(packet: Buffer): void {
    const dst = innerDestination(packet);
    if (!dst) return this.#drops.add('bad_inner_packet');
    const route = this.#routes.lookup(dst);
    // The common case is one peer per CIDR; only a redundant-exit route hashes the flow.
    const peer = typeof route === 'string' ? route : route && pickExit(route.exits, flowHash(packet));
    if (peer === undefined) return this.#fanoutOutbound(packet);
    this.#run(this.#d.device.send(peer, packet, this.#d.clock.now()));
  }

  #fanoutOutbound(packet: Buffer): void {
    const o = this.#d.fanout?.outbound(packet);
    if (o === undefined) return this.#drops.add('no_route');
    if (o.kind === 'report') return;
    if (o.kind === 'drop') return this.#drops.add(o.reason);
    const now = this.#d.clock.now();
    for (const peer of o.peers) this.#run(this.#d.device.send(peer, Buffer.from(o.packet), now));
    if (o.peers.length) this.#d.metrics.inc('fanout_packets_total', { kind: o.kind }, o.peers.length);
  }

  #outsideToInside(peer: string, packet: Uint8Array): void {
    const src = innerSource(packet);
    if (!src) return this.#drops.add('bad_inner_packet');
    // Crypto-key routing: a peer may only send from addresses routed to it.
    if (!isExitOf(this.#routes.lookup(src), peer)) return this.#drops.add('source_not_allowed');
    const refused = this.#d.fanout?.inboundAllowed(packet);
    if (refused) return this.#drops.add(refused);
    if (!this.#d.tun.write(packet)) this.#drops.add('tun_write_failed');
  }

  #run(actions: readonly WgAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'send':
          this.#d.udp.send(a.data, a.to);
          break;
        case 'deliver':
          // An empty transport message is a keepalive: nothing to deliver.
          if (a.packet.length > 0) this.#outsideToInside(a.peer, a.packet);
          break;
        case 'drop':
          this.#drops.add(a.reason as DropReason);
          break;
        case 'handshake':
          this.#d.metrics.inc('handshakes_total', { peer: this.#peers.get(a.peer)?.name ?? a.peer, role: a.role });
          this.#emit({ type: 'handshake', peer: a.peer, role: a.role });
          break;
        case 'endpoint':
          this.#emit({ type: 'endpoint', peer: a.peer, endpoint: a.endpoint });
          break;
        default:
          break;
      }
    }
  }

  #emit(e: EngineEvent): void {
    for (const h of this.#handlers) h(e);
  }
}
