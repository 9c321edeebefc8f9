// Counting drops per packet through prom-client's labelled counters costs a hash lookup per packet;
// the hot path bumps a plain array slot instead and the tick flushes the sums.
import type { Metrics } from '../metrics/registry.js';
import { dropReasons, type DropReason } from '../metrics/table.js';

const reasons = Object.keys(dropReasons) as DropReason[];
const slot = new Map(reasons.map((r, i) => [r, i]));

export class DropCounter {
  readonly #pending = new Float64Array(reasons.length);
  readonly #metrics: Metrics;

  constructor(metrics: Metrics) {
    this.#metrics = metrics;
  }

  add(reason: DropReason, n = 1): void {
    const i = slot.get(reason);
    if (i !== undefined) this.#pending[i]! += n;
  }

  flush(): void {
    for (let i = 0; i < reasons.length; i++) {
      const n = this.#pending[i]!;
      if (n > 0) {
        this.#metrics.inc('packets_dropped_total', { reason: reasons[i]! }, n);
        this.#pending[i] = 0;
      }
    }
  }
}
