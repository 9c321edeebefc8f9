// The native fast path as the daemon meets it: a TUN factory and a UDP factory whose devices belong to
// one native FastPath (it must open the TUN itself, with IFF_VNET_HDR, and own the socket its threads
// use), and the engine that drives them. The daemon opens, configures and closes the devices as usual.
import type { Logger } from '../base/log.js';
import type { Metrics } from '../metrics/registry.js';
import type { WgDevice } from '../noise/device.js';
import type { Fanout } from '../routing/fanout.js';
import type {
  Clock,
  Datagram,
  DatagramSocket,
  DatagramSocketFactory,
  Endpoint,
  TunDevice,
  TunFactory,
} from '../platform/ports.js';
import { loadFastPath, type FastPathHandle } from './native-addon.js';
import { NativeEngine } from './native-engine.js';
import { registerFastPathMetrics } from './native-metrics.js';

export interface NativeHostOptions {
  /** Tunnel MTU: bounds padding and the size of the packets the threads handle. */
  readonly mtu: number;
  readonly log: Logger;
  /** Offloads (TSO from the TUN, UDP GSO/GRO) when the kernel has them; default true. */
  readonly offload?: boolean;
  /** Data threads: 2 (tx and rx, the default) or 1 (one thread for both directions). */
  readonly threads?: 1 | 2;
}

export class NativeHost {
  readonly fast: FastPathHandle;
  readonly tun: TunFactory;
  readonly udp: DatagramSocketFactory;
  #tun: NativeTun | undefined;
  #udp: NativeUdp | undefined;

  private constructor(fast: FastPathHandle, o: NativeHostOptions) {
    this.fast = fast;
    this.tun = {
      open: async (name) => {
        if (this.#tun) throw new Error('the native fast path has one TUN device');
        const t = fast.openTun(name);
        o.log.info({ device: t.name, vnetHdr: t.vnetHdr, tso: t.tso, uso: t.uso }, 'native fast path: TUN opened');
        this.#tun = new NativeTun(fast, t.name, t.fd);
        return this.#tun;
      },
    };
    this.udp = {
      bind: async (host, port) => {
        if (this.#udp) throw new Error('the native fast path has one UDP socket');
        const b = fast.bind(host, port);
        o.log.info({ port: b.port, gso: b.gso, gro: b.gro }, 'native fast path: UDP bound');
        this.#udp = new NativeUdp(fast, b.port);
        return this.#udp;
      },
    };
  }

  /** A host when the addon loads; undefined (callers fall back to the JS engine) otherwise. */
  static tryCreate(o: NativeHostOptions): NativeHost | undefined {
    const addon = loadFastPath();
    if (addon === undefined) {
      o.log.warn('native engine requested but the addon does not load; using the js engine');
      return undefined;
    }
    // TUNMESH_FASTPATH_THREADS=1|2, TUNMESH_FASTPATH_OFFLOAD=0 and TUNMESH_FASTPATH_USO=0 are for
    // measurements (docs/BENCHMARKS.md).
    const env = process.env;
    const threads = o.threads ?? (env.TUNMESH_FASTPATH_THREADS === '1' ? 1 : 2);
    const offload = o.offload ?? env.TUNMESH_FASTPATH_OFFLOAD !== '0';
    const uso = env.TUNMESH_FASTPATH_USO !== '0';
    return new NativeHost(new addon.FastPath({ mtu: o.mtu, offload, uso, threads }), o);
  }

  /** The engine over the opened devices (open the TUN and bind the socket first). */
  engine(deps: { device: WgDevice; clock: Clock; metrics: Metrics; log: Logger; fanout?: Fanout }): NativeEngine {
    if (!this.#tun || !this.#udp) throw new Error('open the TUN and bind the UDP socket before the engine');
    registerFastPathMetrics(deps.metrics, () => this.fast.stats());
    return new NativeEngine({ fast: this.fast, ...deps });
  }
}

/** The TUN device of a fast path: its threads read it; JS writes only slow-path deliveries. */
class NativeTun implements TunDevice {
  #closed = false;

  constructor(
    private readonly fast: FastPathHandle,
    readonly name: string,
    readonly fd: number,
  ) {}

  onPackets(_handler: (packets: Buffer[]) => void): void {
    // The fast path reads the device; packets it cannot send reach the engine, not this handler.
  }

  write(packet: Uint8Array): boolean {
    return !this.#closed && this.fast.writeTun(packet);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.fast.close('tun');
  }
}

/** The UDP socket of a fast path: its threads use it; JS sends slow-path datagrams through it. */
class NativeUdp implements DatagramSocket {
  #closed = false;

  constructor(
    private readonly fast: FastPathHandle,
    private readonly port: number,
  ) {}

  onMessage(_handler: (d: Datagram) => void): void {
    // Datagrams the fast path does not handle reach the engine, not this handler.
  }

  send(data: Uint8Array, to: Endpoint): void {
    if (!this.#closed) this.fast.sendTo(data, to.host, to.port);
  }

  localPort(): number {
    return this.port;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.fast.close('udp');
  }
}
