// The reference engine: the WireGuard core in TypeScript over the platform ports. Inside = the TUN
// (local applications), outside = the UDP underlay. Routing and action handling live in engine-core.ts.
import type { Logger } from '../base/log.js';
import type { Secret } from '../base/secret.js';
import type { Metrics } from '../metrics/registry.js';
import type { WgDevice } from '../noise/device.js';
import type { Clock, DatagramSocket, Timer, TunDevice } from '../platform/ports.js';
import type { Fanout } from '../routing/fanout.js';
import type { DataPlaneEngine, EngineEvent, PeerCounters, PeerSpec } from './engine.js';
import { EngineCore } from './engine-core.js';

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
  readonly core: EngineCore;
  readonly #d: JsEngineDeps;
  #timer: Timer | undefined;
  #running = false;
  /** Datagrams that are not WireGuard messages (transport methods' own types), when a handler is set. */
  #foreign: ((data: Buffer, from: { host: string; port: number }) => boolean) | undefined;

  constructor(deps: JsEngineDeps) {
    this.#d = deps;
    this.core = new EngineCore(deps);
    this.core.setHooks({
      sendUdp: (a) => this.#d.udp.send(a.data, a.to),
      writeTun: (p) => this.#d.tun.write(p),
    });
  }

  /** Datagrams whose first byte is not a WireGuard type go here first (transport/ framing). */
  onForeignDatagram(f: (data: Buffer, from: { host: string; port: number }) => boolean): void {
    this.#foreign = f;
  }

  /** Sends a raw datagram on the underlay (probes, null framing). */
  sendRaw(data: Uint8Array, to: { host: string; port: number }): void {
    this.#d.udp.send(data, to);
  }

  start(): void {
    this.#running = true;
    this.#d.tun.onPackets((packets) => {
      const now = this.#d.clock.now();
      for (const p of packets) this.core.insideToOutside(p, now);
    });
    this.#d.udp.onMessage((dg) => {
      const t = dg.data.length > 0 ? dg.data[0]! : 0;
      if (t > 4 && this.#foreign?.(dg.data, dg.from)) return;
      this.core.receive(dg.data, dg.from, this.#d.clock.now());
    });
    const tick = (): void => {
      if (!this.#running) return;
      this.core.run(this.#d.device.tick(this.#d.clock.now()));
      this.core.drops.flush();
      this.#timer = this.#d.clock.after(tickIntervalMs, tick);
    };
    tick();
  }

  upsertPeer(spec: PeerSpec): void {
    this.core.install(spec);
  }

  removePeer(publicKey: string): void {
    this.core.uninstall(publicKey);
  }

  greet(publicKey: string): void {
    this.core.greet(publicKey, this.#d.clock.now());
  }

  counters(publicKey: string): PeerCounters | undefined {
    return this.core.counters(publicKey);
  }

  replaceIdentity(privateKey: Secret<Uint8Array>): void {
    this.core.replaceIdentity(
      privateKey,
      (k) => this.removePeer(k),
      (s) => this.upsertPeer(s),
    );
  }

  onEvent(handler: (e: EngineEvent) => void): void {
    this.core.onEvent(handler);
  }

  setPaddingMtu(mtu: number): void {
    this.#d.device.setPaddingMtu(mtu);
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#timer?.cancel();
    this.core.drops.flush();
  }
}
