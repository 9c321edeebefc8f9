// The system clock: monotonic time from performance.now, wall time from Date.now; timers never keep the
// process alive (a daemon's lifetime is decided by its sockets and signals, not by a pending rekey timer).
import { performance } from 'node:perf_hooks';
import type { Clock, Timer } from '../ports.js';

export class SystemClock implements Clock {
  now(): number {
    return performance.now();
  }

  wallNow(): number {
    return Date.now();
  }

  after(ms: number, fn: () => void): Timer {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  }
}
