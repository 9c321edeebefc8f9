// Per-peer traffic rates and a short history for the dashboard's charts: samples each peer's counters
// and RTT once per interval into a fixed-size ring (oldest dropped), and derives bytes/s from deltas.

export interface TrafficRow {
  readonly name: string;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface TrafficPoint {
  /** Wall-clock ms. */
  readonly t: number;
  readonly rxBps: number;
  readonly txBps: number;
  readonly rttMs: number | null;
}

export interface TrafficSamplerOptions {
  readonly rows: () => readonly TrafficRow[];
  readonly rttMs: (name: string) => number | null;
  readonly intervalMs?: number;
  /** Points kept per peer. */
  readonly points?: number;
  readonly now?: () => number;
}

export class TrafficSampler {
  readonly #o: TrafficSamplerOptions;
  readonly #last = new Map<string, { t: number; rx: number; tx: number }>();
  readonly #series = new Map<string, TrafficPoint[]>();
  #timer: NodeJS.Timeout | undefined;

  constructor(o: TrafficSamplerOptions) {
    this.#o = o;
  }

  start(): void {
    this.#timer = setInterval(() => this.sample(), this.#o.intervalMs ?? 1000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Takes one sample of every peer (the timer calls it; tests call it directly). */
  sample(): void {
    const now = (this.#o.now ?? Date.now)();
    const max = this.#o.points ?? 300;
    const seen = new Set<string>();
    for (const r of this.#o.rows()) {
      seen.add(r.name);
      const prev = this.#last.get(r.name);
      this.#last.set(r.name, { t: now, rx: r.rxBytes, tx: r.txBytes });
      if (!prev || now <= prev.t) continue;
      const dt = (now - prev.t) / 1000;
      // Counters restart from zero when a peer is re-created; a negative delta is a restart, not traffic.
      const rate = (a: number, b: number) => (a >= b ? Math.round((a - b) / dt) : 0);
      const s = this.#series.get(r.name) ?? [];
      s.push({
        t: now,
        rxBps: rate(r.rxBytes, prev.rx),
        txBps: rate(r.txBytes, prev.tx),
        rttMs: this.#o.rttMs(r.name),
      });
      if (s.length > max) s.shift();
      this.#series.set(r.name, s);
    }
    for (const name of [...this.#last.keys()]) if (!seen.has(name)) this.#last.delete(name);
    for (const name of [...this.#series.keys()]) if (!seen.has(name)) this.#series.delete(name);
  }

  /** Latest rates of one peer. */
  rates(name: string): { rxBps: number; txBps: number } | undefined {
    const s = this.#series.get(name);
    const p = s?.[s.length - 1];
    return p ? { rxBps: p.rxBps, txBps: p.txBps } : undefined;
  }

  /** Every peer's series (oldest first). */
  history(): Record<string, TrafficPoint[]> {
    return Object.fromEntries([...this.#series].map(([k, v]) => [k, [...v]]));
  }
}
