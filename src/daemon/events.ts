// What happened to the mesh, for the dashboard and operators: joins, leaves, failures, handshakes,
// rekeys, endpoint changes, transport fallbacks and reloads. A bounded ring: when full it drops the
// oldest event and counts it, so a flapping peer cannot grow memory.

export type OpsEventType =
  'start' | 'join' | 'leave' | 'down' | 'handshake' | 'rekey' | 'endpoint' | 'fallback' | 'reload' | 'key';

export interface OpsEvent {
  /** Increasing sequence number; clients ask for events after the last one they saw. */
  readonly seq: number;
  readonly at: string;
  readonly type: OpsEventType;
  readonly peer?: string;
  readonly detail?: string;
}

export class EventLog {
  readonly #capacity: number;
  readonly #events: OpsEvent[] = [];
  readonly #now: () => number;
  #seq = 0;
  /** Events dropped because the ring was full (oldest first). */
  dropped = 0;

  constructor(capacity = 500, now: () => number = Date.now) {
    this.#capacity = Math.max(1, capacity);
    this.#now = now;
  }

  add(type: OpsEventType, peer?: string, detail?: string): OpsEvent {
    const e: OpsEvent = {
      seq: ++this.#seq,
      at: new Date(this.#now()).toISOString(),
      type,
      ...(peer !== undefined && { peer }),
      ...(detail !== undefined && { detail }),
    };
    this.#events.push(e);
    if (this.#events.length > this.#capacity) {
      this.#events.shift();
      this.dropped++;
    }
    return e;
  }

  /** Events with seq > `after`, oldest first, at most `limit` (the newest ones). */
  list(after = 0, limit = 200): OpsEvent[] {
    const newer = this.#events.filter((e) => e.seq > after);
    return newer.slice(Math.max(0, newer.length - limit));
  }
}
