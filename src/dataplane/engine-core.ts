// What both engines share: the installed peers, the routing policy, and running a WgDevice's actions.
// An engine supplies only how bytes leave (a UDP send, a TUN write) and what it does with session keys;
// the JS engine drives every packet through here, the native engine only its slow path.
import type { Logger } from '../base/log.js';
import type { Secret } from '../base/secret.js';
import type { Metrics } from '../metrics/registry.js';
import type { WgAction, WgEndpoint } from '../noise/actions.js';
import type { HandshakeAdmission, WgDevice } from '../noise/device.js';
import type { Fanout } from '../routing/fanout.js';
import type { EngineEvent, PeerCounters, PeerSpec } from './engine.js';
import { DropCounter } from './drop-counter.js';
import { PacketPolicy } from './packet-policy.js';

export type SendAction = Extract<WgAction, { type: 'send' }>;

export interface CoreDeps {
  readonly device: WgDevice;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly fanout?: Fanout | undefined;
}

export interface CoreHooks {
  /** Puts a datagram the device built on the UDP underlay. */
  sendUdp(a: SendAction): void;
  /** Writes an allowed inner packet to the TUN. */
  writeTun(packet: Uint8Array): boolean;
  /** Actions only this engine cares about (session keys for a fast path); 'endpoint' too, before the event. */
  other?(a: WgAction): void;
}

/** Extra senders the transport layer installs (dataplane/transport-mux.ts decides which one a send takes). */
export interface SendRouter {
  /** Returns true when it took the datagram (stream, null framing); false: send on UDP as usual. */
  route(a: SendAction): boolean;
  /** An inner packet for a peer whose method carries packets without WireGuard (null); true: taken. */
  plain(peer: string, packet: Uint8Array): boolean;
  /** An authenticated WireGuard message of `peer` arrived (the receive's `via` tells the router how). */
  received(peer: string): void;
}

interface PlainCounters {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

export class EngineCore {
  readonly device: WgDevice;
  readonly drops: DropCounter;
  readonly policy: PacketPolicy;
  readonly peers = new Map<string, PeerSpec>();
  readonly #metrics: Metrics;
  readonly #handlers: ((e: EngineEvent) => void)[] = [];
  #hooks: CoreHooks | undefined;
  #router: SendRouter | undefined;
  /** Traffic of peers on the null method (the device never sees it). */
  readonly #plain = new Map<string, PlainCounters>();

  constructor(d: CoreDeps) {
    this.device = d.device;
    this.#metrics = d.metrics;
    this.drops = new DropCounter(d.metrics);
    this.policy = new PacketPolicy({ drops: this.drops, metrics: d.metrics, fanout: d.fanout });
  }

  setHooks(h: CoreHooks): void {
    this.#hooks = h;
  }

  setRouter(r: SendRouter | undefined): void {
    this.#router = r;
  }

  /** Adds or updates the device peer and its routes; returns the peers whose sole-exit CIDRs may have changed. */
  install(spec: PeerSpec): Set<string> {
    const old = this.peers.get(spec.publicKey);
    const cfg = {
      endpoint: spec.endpoint,
      presharedKey: spec.presharedKey,
      persistentKeepaliveSec: spec.persistentKeepaliveSec,
    };
    const touched = new Set<string>();
    if (old) {
      this.device.updatePeer(spec.publicKey, cfg);
      for (const p of this.policy.remove(old.publicKey, old.allowedIps)) touched.add(p);
    } else {
      this.device.addPeer({ publicKey: Buffer.from(spec.publicKey, 'base64'), ...cfg });
    }
    for (const p of this.policy.add(spec.publicKey, spec.allowedIps)) touched.add(p);
    this.peers.set(spec.publicKey, spec);
    return touched;
  }

  /** Removes the peer; returns the peers whose sole-exit CIDRs may have changed, or undefined if unknown. */
  uninstall(publicKey: string): Set<string> | undefined {
    const old = this.peers.get(publicKey);
    if (!old) return undefined;
    this.peers.delete(publicKey);
    this.#plain.delete(publicKey);
    const touched = this.policy.remove(publicKey, old.allowedIps);
    this.device.removePeer(publicKey);
    return touched;
  }

  /**
   * Live static-key rotation: every peer is removed (its sessions end, under the old key) and installed
   * again under the new key, keeping the endpoint it last used so a roamed or NAT-learned address
   * survives; handshakes start with the next packet either way. `remove`/`add` are the engine's own
   * removePeer/upsertPeer, so its fast path forgets the old sessions too.
   */
  replaceIdentity(
    privateKey: Secret<Uint8Array>,
    remove: (publicKey: string) => void,
    add: (spec: PeerSpec) => void,
  ): void {
    const specs = [...this.peers.values()].map((s) => ({
      ...s,
      endpoint: this.device.peerStatus(s.publicKey)?.endpoint ?? s.endpoint,
    }));
    for (const s of specs) remove(s.publicKey);
    this.device.setPrivateKey(privateKey);
    for (const s of specs) add(s);
  }

  /** The CIDRs of `peer` it is the only exit of. */
  soleExitCidrs(peer: string): string[] {
    const spec = this.peers.get(peer);
    return spec ? this.policy.soleExitCidrs(peer, spec.allowedIps) : [];
  }

  /** See DataPlaneEngine.greet. */
  greet(publicKey: string, now: number): void {
    this.run(this.device.keepalive(publicKey, now));
  }

  counters(publicKey: string): PeerCounters | undefined {
    const s = this.device.peerStatus(publicKey);
    if (!s) return undefined;
    const p = this.#plain.get(publicKey);
    return {
      rxBytes: s.rxBytes + (p?.rxBytes ?? 0),
      txBytes: s.txBytes + (p?.txBytes ?? 0),
      rxPackets: s.rxPackets + (p?.rxPackets ?? 0),
      txPackets: s.txPackets + (p?.txPackets ?? 0),
      lastHandshakeWallMs: s.lastHandshakeWallMs,
      endpoint: s.endpoint,
    };
  }

  /** Counts a null-method packet of `peer`. */
  countPlain(peer: string, dir: 'rx' | 'tx', bytes: number): void {
    let p = this.#plain.get(peer);
    if (!p) this.#plain.set(peer, (p = { rxBytes: 0, txBytes: 0, rxPackets: 0, txPackets: 0 }));
    if (dir === 'rx') {
      p.rxBytes += bytes;
      p.rxPackets++;
    } else {
      p.txBytes += bytes;
      p.txPackets++;
    }
  }

  onEvent(handler: (e: EngineEvent) => void): void {
    this.#handlers.push(handler);
  }

  emit(e: EngineEvent): void {
    for (const h of this.#handlers) h(e);
  }

  /** An inner packet from the TUN the engine could not send itself. */
  insideToOutside(packet: Uint8Array, now: number): void {
    this.policy.insideToOutside(packet, (peer, p) => {
      if (this.#router?.plain(peer, p)) return;
      this.run(this.device.send(peer, p, now));
    });
  }

  /** A decrypted (or plain, for method null) inner packet from `peer`: source check, fan-out rules, TUN. */
  outsideToInside(peer: string, packet: Uint8Array): void {
    this.policy.outsideToInside(peer, packet, (p) => this.#hooks!.writeTun(p));
  }

  /** One WireGuard message from the underlay or (via 'tls') a stream, which never moves the endpoint. */
  receive(
    data: Uint8Array,
    from: WgEndpoint,
    now: number,
    via: 'udp' | 'tls' = 'udp',
    admitted?: HandshakeAdmission,
  ): void {
    const opts = this.#router ? { roam: via === 'udp', report: true, admitted } : { admitted };
    this.run(this.device.receive(data, from, now, opts));
  }

  run(actions: readonly WgAction[]): void {
    const h = this.#hooks!;
    for (const a of actions) {
      switch (a.type) {
        case 'send':
          if (!this.#router?.route(a)) h.sendUdp(a);
          break;
        case 'deliver':
          // An empty transport message is a keepalive: nothing to deliver.
          if (a.packet.length > 0) this.outsideToInside(a.peer, a.packet);
          break;
        case 'drop':
          this.drops.add(a.reason);
          break;
        case 'handshake':
          this.#metrics.inc('handshakes_total', { peer: this.peers.get(a.peer)?.name ?? a.peer, role: a.role });
          this.emit({ type: 'handshake', peer: a.peer, role: a.role });
          break;
        case 'received':
          this.#router?.received(a.peer);
          break;
        case 'endpoint':
          h.other?.(a);
          this.emit({ type: 'endpoint', peer: a.peer, endpoint: a.endpoint });
          break;
        default:
          h.other?.(a);
          break;
      }
    }
  }
}
