// The memory twin of the RouteMtuSource port: tests set the routes of a device (each with or without an
// MTU) and every watch of that device sees the new smallest MTU at once.
import type { RouteMtuSource, RouteMtuWatch } from '../ports.js';

export class MemoryRouteMtu implements RouteMtuSource {
  /** device → destination → MTU (undefined: a route without one). */
  readonly #routes = new Map<string, Map<string, number | undefined>>();
  readonly #watches = new Set<MemoryRouteMtuWatch>();

  /** Adds or replaces the route to `dst` through `device`. */
  setRoute(device: string, dst: string, mtu?: number): void {
    let table = this.#routes.get(device);
    if (!table) this.#routes.set(device, (table = new Map()));
    table.set(dst, mtu);
    this.#notify(device);
  }

  deleteRoute(device: string, dst: string): void {
    if (this.#routes.get(device)?.delete(dst)) this.#notify(device);
  }

  /** Smallest MTU of the routes into `device`, as the Linux source computes it. */
  smallest(device: string): number | undefined {
    let min: number | undefined;
    for (const mtu of this.#routes.get(device)?.values() ?? [])
      if (mtu !== undefined && (min === undefined || mtu < min)) min = mtu;
    return min;
  }

  async watch(device: string): Promise<RouteMtuWatch> {
    const w = new MemoryRouteMtuWatch(device, this.smallest(device), (x) => this.#watches.delete(x));
    this.#watches.add(w);
    return w;
  }

  #notify(device: string): void {
    const value = this.smallest(device);
    for (const w of this.#watches) if (w.device === device) w.update(value);
  }
}

class MemoryRouteMtuWatch implements RouteMtuWatch {
  readonly #handlers: ((mtu: number | undefined) => void)[] = [];

  constructor(
    readonly device: string,
    private value: number | undefined,
    private readonly release: (w: MemoryRouteMtuWatch) => void,
  ) {}

  current(): number | undefined {
    return this.value;
  }

  onChange(handler: (mtu: number | undefined) => void): void {
    this.#handlers.push(handler);
  }

  update(value: number | undefined): void {
    if (value === this.value) return;
    this.value = value;
    for (const h of this.#handlers) h(value);
  }

  async stop(): Promise<void> {
    this.release(this);
  }
}
