// The smallest route MTU into a device, from iproute2 (R28: it bounds padding). A long-lived
// `ip -o monitor route` child says when any route changes; each burst of its lines (debounced) re-dumps
// the device's routes, IPv4 and IPv6, every table. Reading routes and joining rtnetlink's route groups needs
// no capability, so this runs after the daemon dropped privileges. If the monitor cannot run or dies, the
// routes are polled instead. Commands run with execFile/spawn: a device name never becomes shell text.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../base/log.js';
import type { Clock, RouteMtuSource, RouteMtuWatch, Timer } from '../ports.js';
import { SystemClock } from './clock.js';

export interface LinuxRouteMtuOptions {
  /** Path of the ip binary (default: `ip` from PATH). */
  readonly ipPath?: string;
  readonly log?: Logger;
  readonly clock?: Clock;
  /** Quiet time after a monitor line before the re-dump (default 100 ms). */
  readonly debounceMs?: number;
  /** Poll period when the monitor is unavailable (default 2000 ms). */
  readonly pollMs?: number;
  /** Per `ip` dump (default 5000 ms). */
  readonly timeoutMs?: number;
}

/**
 * The smallest `mtu` metric in `ip -j route show` output; undefined when no route sets one or the text is
 * not such output. Never throws.
 */
export function smallestRouteMtu(json: string): number | undefined {
  let rows: unknown;
  try {
    rows = JSON.parse(json.trim() === '' ? '[]' : json);
  } catch {
    return undefined;
  }
  if (!Array.isArray(rows)) return undefined;
  let min: number | undefined;
  for (const row of rows) {
    if (typeof row !== 'object' || row === null) continue;
    const metrics = (row as { metrics?: unknown }).metrics;
    // iproute2 prints `metrics: [{ mtu: N }, ...]`; accept a bare object as well.
    const list: unknown[] = Array.isArray(metrics) ? metrics : metrics !== undefined ? [metrics] : [];
    for (const m of list) {
      if (typeof m !== 'object' || m === null) continue;
      const mtu = (m as { mtu?: unknown }).mtu;
      if (typeof mtu === 'number' && Number.isInteger(mtu) && mtu > 0 && (min === undefined || mtu < min)) min = mtu;
    }
  }
  return min;
}

export class LinuxRouteMtuSource implements RouteMtuSource {
  constructor(private readonly opts: LinuxRouteMtuOptions = {}) {}

  async watch(device: string): Promise<RouteMtuWatch> {
    const w = new LinuxRouteMtuWatch(device, this.opts);
    await w.start();
    return w;
  }
}

class LinuxRouteMtuWatch implements RouteMtuWatch {
  readonly #device: string;
  readonly #ip: string;
  readonly #log: Logger | undefined;
  readonly #clock: Clock;
  readonly #debounceMs: number;
  readonly #pollMs: number;
  readonly #timeoutMs: number;
  readonly #handlers: ((mtu: number | undefined) => void)[] = [];
  #value: number | undefined;
  #child: ChildProcess | undefined;
  #timer: Timer | undefined;
  #poll: Timer | undefined;
  /** A dump in flight, and whether another is owed after it (a change arrived meanwhile). */
  #reading: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(device: string, o: LinuxRouteMtuOptions) {
    this.#device = device;
    this.#ip = o.ipPath ?? 'ip';
    this.#log = o.log;
    this.#clock = o.clock ?? new SystemClock();
    this.#debounceMs = o.debounceMs ?? 100;
    this.#pollMs = o.pollMs ?? 2000;
    this.#timeoutMs = o.timeoutMs ?? 5000;
  }

  async start(): Promise<void> {
    // Subscribe first, so a change between the dump and the subscription is not missed.
    this.#monitor();
    await this.#refresh();
  }

  current(): number | undefined {
    return this.#value;
  }

  onChange(handler: (mtu: number | undefined) => void): void {
    this.#handlers.push(handler);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#poll?.cancel();
    const child = this.#child;
    this.#child = undefined;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      // Held (ref) until it is gone, so that stop() resolves even when nothing else keeps the loop alive.
      child.ref();
      let timer: NodeJS.Timeout | undefined;
      const exited = new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        timer = setTimeout(resolve, 1000);
      });
      process.kill(child.pid, 'SIGTERM');
      await exited;
      clearTimeout(timer);
    }
    await this.#reading;
  }

  #monitor(): void {
    let child: ChildProcess;
    try {
      child = spawn(this.#ip, ['-o', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (err) {
      this.#fallBack(err);
      return;
    }
    this.#child = child;
    child.stdout?.on('data', () => this.#schedule());
    child.on('error', (err) => this.#fallBack(err));
    child.on('exit', (code, signal) => {
      if (!this.#stopped) this.#fallBack(new Error(`ip monitor exited (code ${code}, signal ${signal})`));
    });
    // The daemon's lifetime is decided by its sockets and signals, not by this child.
    child.unref();
    (child.stdout as { unref?: () => void } | null)?.unref?.();
  }

  #fallBack(err: unknown): void {
    if (this.#stopped || this.#poll !== undefined) return;
    this.#child = undefined;
    this.#log?.warn(
      { device: this.#device, err: err instanceof Error ? err.message : String(err), pollMs: this.#pollMs },
      'route MTU: ip monitor unavailable, polling the routes',
    );
    const tick = (): void => {
      if (this.#stopped) return;
      void this.#refresh();
      this.#poll = this.#clock.after(this.#pollMs, tick);
    };
    this.#poll = this.#clock.after(this.#pollMs, tick);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer?.cancel();
    this.#timer = this.#clock.after(this.#debounceMs, () => void this.#refresh());
  }

  #refresh(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        await this.#readOnce();
      } while (this.#again && !this.#stopped);
    })().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #readOnce(): Promise<void> {
    const [v4, v6] = await Promise.all([this.#dump('-4'), this.#dump('-6')]);
    if (this.#stopped) return;
    // A failed dump (device gone, ip missing) keeps the last value rather than dropping the bound.
    if (v4 === null || v6 === null) return;
    const both = [smallestRouteMtu(v4), smallestRouteMtu(v6)].filter((m): m is number => m !== undefined);
    const next = both.length > 0 ? Math.min(...both) : undefined;
    if (next === this.#value) return;
    const prev = this.#value;
    this.#value = next;
    this.#log?.info({ device: this.#device, routeMtu: next, was: prev }, 'smallest route MTU into the TUN changed');
    for (const h of this.#handlers) h(next);
  }

  /** `ip -j <family> route show table all dev <device>`; null when it fails. */
  #dump(family: '-4' | '-6'): Promise<string | null> {
    return new Promise((resolve) => {
      execFile(
        this.#ip,
        ['-j', family, 'route', 'show', 'table', 'all', 'dev', this.#device],
        { timeout: this.#timeoutMs, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (!err) return resolve(String(stdout));
          this.#log?.debug({ device: this.#device, family, err: String(stderr).trim() || err.message }, 'route dump');
          resolve(null);
        },
      );
    });
  }
}
