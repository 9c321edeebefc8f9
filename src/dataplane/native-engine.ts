// The native engine: established sessions run in the addon's threads (native/src/fastpath*.cc); this
// class is their control plane. It installs peers, allowed IPs and session keys from the WgDevice's
// actions, feeds the device what the threads hand up (handshakes, cookies, packets without a session,
// verified first packets of a new session), and every tick gives the device a summary of the traffic
// the threads carried so its timers (keepalive, rekey) run exactly as in the JS engine.
import type { Logger } from '../base/log.js';
import type { Secret } from '../base/secret.js';
import type { Metrics } from '../metrics/registry.js';
import type { WgAction } from '../noise/actions.js';
import type { WgDevice } from '../noise/device.js';
import type { Clock, Endpoint, Timer } from '../platform/ports.js';
import type { Fanout } from '../routing/fanout.js';
import { cookieKey, mac1Key } from '../noise/cookie.js';
import { parseCidr } from '../wire/ip.js';
import type { DataPlaneEngine, EngineEvent, PeerCounters, PeerSpec } from './engine.js';
import { EngineCore } from './engine-core.js';
import {
  activityColumns,
  nativeDropReasons,
  type FastPathHandle,
  type FastPathStats,
  type NativeDropReason,
  type SlowItem,
} from './native-addon.js';

const tickIntervalMs = 100;

export interface NativeEngineDeps {
  readonly fast: FastPathHandle;
  readonly device: WgDevice;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Broadcast / multicast decisions for packets no unicast route covers (routing/fanout.ts). */
  readonly fanout?: Fanout | undefined;
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
  readonly core: EngineCore;
  readonly #d: NativeEngineDeps;
  readonly #fast: FastPathHandle;
  readonly #ids = new Map<string, number>();
  readonly #keys = new Map<number, string>();
  /** Peers whose traffic does not take the native UDP path (a stream, null framing): JS handles them. */
  readonly #offUdp = new Set<string>();
  #lastDrops: Partial<Record<NativeDropReason, number>> = {};
  #nextId = 1;
  #timer: Timer | undefined;
  #running = false;
  #foreign: ((data: Buffer, from: Endpoint) => boolean) | undefined;

  constructor(deps: NativeEngineDeps) {
    this.#d = deps;
    this.#fast = deps.fast;
    this.core = new EngineCore(deps);
    this.core.setHooks({
      // Transport messages the device sealed are re-sealed natively under the shared counter.
      sendUdp: (a) => this.#send(a.to, a.data, a.message === 'transport' ? a.peer : undefined),
      writeTun: (p) => this.#fast.writeTun(p),
      other: (a) => this.#other(a),
    });
  }

  /** Datagrams whose first byte is not a WireGuard type go here first (transport/ framing). */
  onForeignDatagram(f: (data: Buffer, from: Endpoint) => boolean): void {
    this.#foreign = f;
  }

  /** Sends a raw datagram on the underlay (probes, null framing). */
  sendRaw(data: Uint8Array, to: Endpoint): void {
    if (!this.#fast.sendTo(data, to.host, to.port)) this.core.drops.add('udp_send_failed');
  }

  /**
   * Whether `peer`'s traffic takes the native UDP path. Off: the threads get no endpoint for it, so
   * everything for it comes up the slow path and JS sends it (stream, null framing).
   */
  setNativeUdp(peer: string, on: boolean): void {
    if (on ? !this.#offUdp.delete(peer) : this.#offUdp.has(peer)) return;
    if (!on) this.#offUdp.add(peer);
    const id = this.#ids.get(peer);
    if (id === undefined) return;
    if (on) {
      const ep = this.#d.device.peerStatus(peer)?.endpoint;
      this.#fast.setPeer(id, ep?.host, ep?.port);
      return;
    }
    // setPeer without an endpoint keeps the old one: recreate the native peer bare (no endpoint, no keys),
    // so the threads punt all of its traffic; the device still holds the sessions for the slow path.
    this.#fast.removePeer(id);
    this.#fast.setPeer(id);
    this.#syncRoutes([peer]);
  }

  /** Starts the peer's session afresh: a new handshake, keys and counters on whichever path it takes now. */
  restartSession(peer: string): void {
    const spec = this.core.peers.get(peer);
    if (!spec) return;
    const off = this.#offUdp.has(peer);
    this.removePeer(peer);
    if (off) this.#offUdp.add(peer);
    this.upsertPeer(spec);
  }

  start(): void {
    const limits = this.#d.device.limits;
    this.#syncHandshakeKeys();
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
    const touched = this.core.install(spec);
    let id = this.#ids.get(spec.publicKey);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(spec.publicKey, id);
      this.#keys.set(id, spec.publicKey);
    }
    const ep = this.#offUdp.has(spec.publicKey) ? undefined : this.#d.device.peerStatus(spec.publicKey)?.endpoint;
    this.#fast.setPeer(id, ep?.host, ep?.port);
    this.#syncRoutes(touched);
  }

  removePeer(publicKey: string): void {
    const touched = this.core.uninstall(publicKey);
    if (!touched) return;
    const id = this.#ids.get(publicKey);
    if (id !== undefined) {
      this.#fast.removePeer(id);
      this.#ids.delete(publicKey);
      this.#keys.delete(id);
    }
    this.#offUdp.delete(publicKey);
    this.#syncRoutes(touched);
  }

  replaceIdentity(privateKey: Secret<Uint8Array>): void {
    // The threads hold session keys, dropped by removing each peer, and the handshake gate's keys from
    // our public key, re-derived below; a peer off the native UDP path stays off (as restartSession keeps it).
    const off = new Set(this.#offUdp);
    this.core.replaceIdentity(
      privateKey,
      (k) => this.removePeer(k),
      (s) => {
        if (off.has(s.publicKey)) this.#offUdp.add(s.publicKey);
        this.upsertPeer(s);
      },
    );
    this.#syncHandshakeKeys();
  }

  /**
   * The rx thread's handshake gate checks mac1/mac2 and answers cookies itself, so a handshake flood
   * costs TypeScript nothing (R22); it needs the keys derived from our current static public key.
   */
  #syncHandshakeKeys(): void {
    const pub = this.#d.device.publicKey;
    this.#fast.setHandshakeKeys(mac1Key(pub), cookieKey(pub), this.#d.device.limits.cookieRefreshTimeMs);
  }

  /** The threads route only CIDRs with exactly one exit; multi-exit CIDRs and misses come up to JS. */
  #syncRoutes(peers: Iterable<string>): void {
    for (const p of peers) {
      const id = this.#ids.get(p);
      if (id !== undefined) this.#fast.setRoutes(id, packRoutes(this.core.soleExitCidrs(p)));
    }
  }

  greet(publicKey: string): void {
    this.core.greet(publicKey, this.#d.clock.now());
  }

  counters(publicKey: string): PeerCounters | undefined {
    return this.core.counters(publicKey);
  }

  onEvent(handler: (e: EngineEvent) => void): void {
    this.core.onEvent(handler);
  }

  /** Both sealers pad the same way: the device (slow path) and the tx thread. */
  setPaddingMtu(mtu: number): void {
    this.#d.device.setPaddingMtu(mtu);
    this.#fast.setPaddingMtu(mtu);
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
    this.core.drops.flush();
  }

  #tick(): void {
    const now = this.#d.clock.now();
    const rows = this.#fast.activity();
    for (let i = 0; i + activityColumns <= rows.length; i += activityColumns) {
      const key = this.#keys.get(rows[i]!);
      if (key === undefined) continue;
      const at = (ago: number): number | undefined => (ago < 0 ? undefined : now - ago);
      const localIndex = rows[i + 8]!;
      this.core.run(
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
    this.core.run(this.#d.device.tick(now));
    this.#flushNativeDrops();
    this.core.drops.flush();
  }

  #flushNativeDrops(): void {
    const totals = this.#fast.stats().drops;
    for (const reason of nativeDropReasons) {
      const delta = totals[reason] - (this.#lastDrops[reason] ?? 0);
      if (delta > 0) this.core.drops.add(reason, delta);
    }
    this.#lastDrops = { ...totals };
  }

  #slowPath(items: SlowItem[]): void {
    if (!this.#running) return;
    const now = this.#d.clock.now();
    for (const it of items) {
      if (it.kind === 0) this.core.insideToOutside(it.data, now);
      else if (it.kind === 2) {
        const key = it.peer === undefined ? undefined : this.#keys.get(it.peer);
        if (key !== undefined) this.core.outsideToInside(key, it.data);
      } else if (it.host !== undefined && it.port !== undefined) {
        const from = { host: it.host, port: it.port };
        if (it.kind !== 1) {
          this.core.receive(it.data, from, now, 'udp', it.kind === 3 ? 'mac1' : 'mac2');
          continue;
        }
        const t = it.data.length > 0 ? it.data[0]! : 0;
        if (t > 4 && this.#foreign?.(it.data, from)) continue;
        this.core.receive(it.data, from, now);
      }
    }
  }

  #send(to: Endpoint, data: Uint8Array, transportFor: string | undefined): void {
    const id = transportFor === undefined ? undefined : this.#ids.get(transportFor);
    const ok =
      id === undefined
        ? this.#fast.sendTo(data, to.host, to.port)
        : this.#fast.sendTransport(id, data, to.host, to.port);
    if (!ok) this.core.drops.add('udp_send_failed');
  }

  #other(a: WgAction): void {
    switch (a.type) {
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
      case 'endpoint': {
        const id = this.#ids.get(a.peer);
        // A peer on a stream or null framing keeps its native endpoint cleared (all of it stays in JS).
        if (id !== undefined && !this.#offUdp.has(a.peer)) this.#fast.setPeer(id, a.endpoint.host, a.endpoint.port);
        break;
      }
      default:
        break;
    }
  }
}
