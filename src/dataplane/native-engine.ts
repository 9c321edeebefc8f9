// The native engine: established sessions run in the addon's threads (native/src/fastpath*.cc); this
// class is their control plane. It installs peers, allowed IPs and session keys from the WgDevice's
// actions, feeds the device what the threads hand up (handshakes, cookies, packets without a session,
// verified first packets of a new session), and every tick gives the device a summary of the traffic
// the threads carried so its timers (keepalive, rekey) run exactly as in the JS engine.
import type { Logger } from '../base/log.js';
import type { Metrics } from '../metrics/registry.js';
import type { DropReason } from '../metrics/table.js';
import type { WgAction } from '../noise/actions.js';
import type { WgDevice } from '../noise/device.js';
import type { Clock, Endpoint, Timer } from '../platform/ports.js';
import { parseCidr } from '../wire/ip.js';
import { AllowedIps } from './allowed-ips.js';
import type { DataPlaneEngine, EngineEvent, PeerCounters, PeerSpec } from './engine.js';
import { DropCounter } from './drop-counter.js';
import { innerDestination, innerSource } from './inner-address.js';
import { activityColumns, type FastPathHandle, type FastPathStats, type SlowItem } from './native-addon.js';

const tickIntervalMs = 100;

export interface NativeEngineDeps {
  readonly fast: FastPathHandle;
  readonly device: WgDevice;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** Packs CIDRs for FastPathHandle.setRoutes; invalid ones are skipped (the config layer rejects them). */
export function packRoutes(cidrs: readonly string[]): Uint8Array {
  const parts: number[] = [];
  for (const s of cidrs) {
    const c = parseCidr(s);
    if (c === undefined) continue;
    parts.push(c.addr.length === 4 ? 4 : 6, c.prefixLength, ...c.addr);
  }
  return Uint8Array.from(parts);
}

export class NativeEngine implements DataPlaneEngine {
  readonly kind = 'native' as const;
  readonly #d: NativeEngineDeps;
  readonly #fast: FastPathHandle;
  /** Slow-path routing (the threads have their own copy of the same table). */
  readonly #routes = new AllowedIps<string>();
  readonly #peers = new Map<string, PeerSpec>();
  readonly #ids = new Map<string, number>();
  readonly #keys = new Map<number, string>();
  readonly #drops: DropCounter;
  readonly #handlers: ((e: EngineEvent) => void)[] = [];
  #lastDrops: Record<string, number> = {};
  #nextId = 1;
  #timer: Timer | undefined;
  #running = false;

  constructor(deps: NativeEngineDeps) {
    this.#d = deps;
    this.#fast = deps.fast;
    this.#drops = new DropCounter(deps.metrics);
  }

  start(): void {
    const limits = this.#d.device.limits;
    this.#fast.start((items) => this.#slowPath(items), {
      rejectAfterTimeMs: limits.rejectAfterTimeMs,
      rejectAfterMessages: limits.rejectAfterMessages,
    });
    this.#running = true;
    const tick = (): void => {
      if (!this.#running) return;
      this.#tick();
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
    let id = this.#ids.get(spec.publicKey);
    if (old) {
      this.#d.device.updatePeer(spec.publicKey, cfg);
      this.#routes.removeValue(spec.publicKey);
    } else {
      this.#d.device.addPeer({ publicKey: Buffer.from(spec.publicKey, 'base64'), ...cfg });
    }
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(spec.publicKey, id);
      this.#keys.set(id, spec.publicKey);
    }
    const ep = this.#d.device.peerStatus(spec.publicKey)?.endpoint;
    this.#fast.setPeer(id, ep?.host, ep?.port);
    for (const cidr of spec.allowedIps) this.#routes.insert(cidr, spec.publicKey);
    this.#fast.setRoutes(id, packRoutes(spec.allowedIps));
    this.#peers.set(spec.publicKey, spec);
  }

  removePeer(publicKey: string): void {
    if (!this.#peers.delete(publicKey)) return;
    const id = this.#ids.get(publicKey);
    if (id !== undefined) {
      this.#fast.removePeer(id);
      this.#ids.delete(publicKey);
      this.#keys.delete(id);
    }
    this.#routes.removeValue(publicKey);
    this.#d.device.removePeer(publicKey);
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

  /** The fast path's own counters (reads, sends, offload use, drops). */
  stats(): FastPathStats {
    return this.#fast.stats();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#timer?.cancel();
    this.#fast.stop();
    this.#flushNativeDrops();
    this.#drops.flush();
  }

  #tick(): void {
    const now = this.#d.clock.now();
    const rows = this.#fast.activity();
    for (let i = 0; i + activityColumns <= rows.length; i += activityColumns) {
      const key = this.#keys.get(rows[i]!);
      if (key === undefined) continue;
      const at = (ago: number): number | undefined => (ago < 0 ? undefined : now - ago);
      const localIndex = rows[i + 8]!;
      this.#run(
        this.#d.device.fastPathActivity(
          key,
          {
            txPackets: rows[i + 1]!,
            txBytes: rows[i + 2]!,
            rxPackets: rows[i + 3]!,
            rxBytes: rows[i + 4]!,
            dataSentAt: at(rows[i + 5]!),
            dataReceivedAt: at(rows[i + 6]!),
            receivedAt: at(rows[i + 7]!),
            sendCounter: localIndex < 0 ? undefined : { localIndex, next: rows[i + 9]! },
          },
          now,
        ),
      );
    }
    this.#run(this.#d.device.tick(now));
    this.#flushNativeDrops();
    this.#drops.flush();
  }

  #flushNativeDrops(): void {
    const totals = this.#fast.stats().drops;
    for (const [reason, total] of Object.entries(totals)) {
      const delta = total - (this.#lastDrops[reason] ?? 0);
      if (delta > 0) this.#drops.add(reason as DropReason, delta);
    }
    this.#lastDrops = { ...totals };
  }

  #slowPath(items: SlowItem[]): void {
    if (!this.#running) return;
    const now = this.#d.clock.now();
    for (const it of items) {
      if (it.kind === 0) this.#insideToOutside(it.data, now);
      else if (it.host !== undefined && it.port !== undefined)
        this.#run(this.#d.device.receive(it.data, { host: it.host, port: it.port }, now));
    }
  }

  #insideToOutside(packet: Buffer, now: number): void {
    const dst = innerDestination(packet);
    if (!dst) return this.#drops.add('bad_inner_packet');
    const peer = this.#routes.lookup(dst);
    if (peer === undefined) return this.#drops.add('no_route');
    this.#run(this.#d.device.send(peer, packet, now));
  }

  #outsideToInside(peer: string, packet: Uint8Array): void {
    const src = innerSource(packet);
    if (!src) return this.#drops.add('bad_inner_packet');
    if (this.#routes.lookup(src) !== peer) return this.#drops.add('source_not_allowed');
    if (!this.#fast.writeTun(packet)) this.#drops.add('tun_write_failed');
  }

  #send(to: Endpoint, data: Uint8Array, transportFor: string | undefined): void {
    const id = transportFor === undefined ? undefined : this.#ids.get(transportFor);
    const ok =
      id === undefined
        ? this.#fast.sendTo(data, to.host, to.port)
        : this.#fast.sendTransport(id, data, to.host, to.port);
    if (!ok) this.#drops.add('udp_send_failed');
  }

  #run(actions: readonly WgAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'send':
          // Transport messages the device sealed are re-sealed natively under the shared counter.
          this.#send(a.to, a.data, a.message === 'transport' ? a.peer : undefined);
          break;
        case 'deliver':
          if (a.packet.length > 0) this.#outsideToInside(a.peer, a.packet);
          break;
        case 'drop':
          this.#drops.add(a.reason as DropReason);
          break;
        case 'keypair': {
          const id = this.#ids.get(a.peer);
          const k = a.keypair;
          if (id !== undefined) {
            const age = Math.max(0, this.#d.clock.now() - k.createdAt);
            // An initiator's keypair sends at once; a responder's waits for key confirmation.
            this.#fast.addKeypair(
              id,
              k.localIndex,
              k.remoteIndex,
              k.sendKey.expose(),
              k.receiveKey.expose(),
              age,
              k.isInitiator,
            );
          }
          k.sendKey.expose().fill(0);
          k.receiveKey.expose().fill(0);
          break;
        }
        case 'keypair_current':
          this.#fast.confirmKeypair(a.localIndex);
          break;
        case 'keypair_removed':
          this.#fast.removeKeypair(a.localIndex);
          break;
        case 'handshake':
          this.#d.metrics.inc('handshakes_total', { peer: this.#peers.get(a.peer)?.name ?? a.peer, role: a.role });
          this.#emit({ type: 'handshake', peer: a.peer, role: a.role });
          break;
        case 'endpoint': {
          const id = this.#ids.get(a.peer);
          if (id !== undefined) this.#fast.setPeer(id, a.endpoint.host, a.endpoint.port);
          this.#emit({ type: 'endpoint', peer: a.peer, endpoint: a.endpoint });
          break;
        }
        default:
          break;
      }
    }
  }

  #emit(e: EngineEvent): void {
    for (const h of this.#handlers) h(e);
  }
}
