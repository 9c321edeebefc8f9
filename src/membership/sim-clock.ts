// The simulations' clock: base's ManualClock (the project's one fake clock) whose `advance` lets the
// promise chains each timer starts settle before the next fires, so a membership run (which awaits its
// transport) depends only on its seed.
import { ManualClock } from '../base/manual-clock.js';
import type { MembershipClock } from './membership.js';

export class SimClock extends ManualClock implements MembershipClock {
  constructor(wallBase = 1_700_000_000_000) {
    super({ wallStartMs: wallBase });
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.pendingTimers;
  }

  override advance(ms: number): Promise<void> {
    return this.advanceSettled(ms);
  }
}
