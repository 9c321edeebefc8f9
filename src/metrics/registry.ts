// Builds the prom-client registry from the metric table.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { metricPrefix, metricTable, type MetricName } from './table.js';

type LabelsOf<N extends MetricName> = (typeof metricTable)[N]['labels'][number];
export type Labels<N extends MetricName> = Partial<Record<LabelsOf<N>, string>>;

export class Metrics {
  readonly registry = new Registry();
  readonly #metrics = new Map<MetricName, Counter | Gauge | Histogram>();
  readonly #collectors = new Map<MetricName, () => Iterable<[Record<string, string>, number]>>();

  constructor(opts: { defaultMetrics?: boolean; baseLabels?: Record<string, string> } = {}) {
    if (opts.baseLabels) this.registry.setDefaultLabels(opts.baseLabels);
    for (const [name, def] of Object.entries(metricTable)) {
      const collectors = this.#collectors;
      const common = {
        name: metricPrefix + name,
        help: def.help,
        labelNames: [...def.labels],
        registers: [this.registry],
        // Values owned elsewhere (e.g. per-peer counters kept by the data plane) are read at scrape time.
        collect(this: Counter | Gauge) {
          const source = collectors.get(name as MetricName);
          if (!source) return;
          this.reset();
          for (const [labels, value] of source()) {
            if (this instanceof Gauge) this.set(labels, value);
            else this.inc(labels, value);
          }
        },
      };
      const { collect, ...plain } = common;
      const metric =
        def.kind === 'counter'
          ? new Counter({ ...plain, collect })
          : def.kind === 'gauge'
            ? new Gauge({ ...plain, collect })
            : new Histogram(plain);
      this.#metrics.set(name as MetricName, metric);
    }
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: metricPrefix });
  }

  /** Makes a metric read its values from `source` at every scrape (replacing what was set). */
  collectFrom<N extends MetricName>(name: N, source: () => Iterable<[Labels<N>, number]>): void {
    this.#collectors.set(name, source as () => Iterable<[Record<string, string>, number]>);
  }

  inc<N extends MetricName>(name: N, labels: Labels<N> = {}, by = 1): void {
    (this.#metrics.get(name) as Counter).inc(labels, by);
  }

  set<N extends MetricName>(name: N, labels: Labels<N>, value: number): void {
    (this.#metrics.get(name) as Gauge).set(labels, value);
  }

  /** Current value of a counter or gauge for exact labels (0 when never set); for status and tests. */
  async value<N extends MetricName>(name: N, labels: Labels<N> = {}): Promise<number> {
    const m = await this.#metrics.get(name)!.get();
    const want = Object.entries(labels);
    const hit = m.values.find(
      (v) =>
        want.every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val) &&
        Object.keys(v.labels).length === want.length,
    );
    return hit?.value ?? 0;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
