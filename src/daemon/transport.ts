// Wiring of the transport layer (src/transport/) into the daemon: the mux over the engine, the stream
// dialer (control/stream-dial.ts) and acceptor (control/routes/stream.ts), negotiation per member record.
import type { Logger } from '../base/log.js';
import type { Secret } from '../base/secret.js';
import type { Config } from '../config/index.js';
import { StreamDialer } from '../control/stream-dial.js';
import type { NodeRecord } from '../membership/record.js';
import type { Metrics } from '../metrics/registry.js';
import type { Clock, Random } from '../platform/ports.js';
import { probeKey } from '../transport/frames.js';
import { negotiate, type Negotiated } from '../transport/methods.js';
import { TransportMux, type MuxEngine } from '../transport/mux.js';
import { defaultPathTiming } from '../transport/path-machine.js';

export interface TransportWiringDeps {
  readonly config: Config;
  readonly secret: Secret<Uint8Array | string>;
  readonly engine: MuxEngine;
  readonly selfKey: Uint8Array;
  readonly clock: Clock;
  readonly random: Random;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** The record of the member whose data-plane key this is (for its API URL and id). */
  readonly recordOf: (publicKey: string) => NodeRecord | undefined;
  readonly peerName: (publicKey: string) => string;
  readonly onSwitch?: (peerName: string, from: string, to: string) => void;
}

export class TransportWiring {
  readonly mux: TransportMux;
  readonly #methods: readonly string[];
  #selfKeyB64: string;

  private constructor(d: TransportWiringDeps, dialer: StreamDialer) {
    this.#methods = d.config.transport.methods;
    this.#selfKeyB64 = Buffer.from(d.selfKey).toString('base64');
    this.mux = new TransportMux({
      engine: d.engine,
      metrics: d.metrics,
      log: d.log,
      now: () => d.clock.now(),
      wallNow: () => d.clock.wallNow(),
      random: (n) => d.random.bytes(n),
      selfKey: d.selfKey,
      probeKey: probeKey(d.secret.expose()),
      timing: {
        ...defaultPathTiming,
        silenceMs: d.config.transport.silenceMs,
        recoverEveryMs: d.config.transport.recoverIntervalMs,
      },
      dial: (key) => {
        const r = d.recordOf(key);
        if (!r) return Promise.reject(new Error('no record for this peer'));
        return dialer.dial(r.apiUrl, r.id);
      },
      peerName: d.peerName,
      onSwitch: (key, from, to) => d.onSwitch?.(d.peerName(key), from, to),
    });
    d.metrics.collectFrom('peer_transport', () => this.mux.rows());
  }

  static async create(d: TransportWiringDeps): Promise<TransportWiring> {
    const c = d.config;
    const dialer = await StreamDialer.create({
      nodeId: c.node.name,
      secret: d.secret,
      trust: c.control.tls.caFile ?? c.control.tls.certFile,
      checkHostname: c.control.tls.verifyHostname,
      timeoutMs: c.membership.requestTimeoutMs * 2,
    });
    return new TransportWiring(d, dialer);
  }

  /** This node's key after a live rotation: negotiation and the mux use the new one from now on. */
  setSelfKey(publicKey: Uint8Array): void {
    this.#selfKeyB64 = Buffer.from(publicKey).toString('base64');
    this.mux.setSelfKey(publicKey);
  }

  /** The method this node and the record's node use (records without methods are wireguard-only). */
  negotiate(r: NodeRecord): Negotiated {
    const methods = r.methods.length ? r.methods : ['wireguard'];
    return negotiate({ publicKey: this.#selfKeyB64, methods: this.#methods }, { publicKey: r.publicKey, methods });
  }
}
