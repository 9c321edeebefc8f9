// The memory twin of the Clock port: base's ManualClock, the project's one fake clock (membership's
// simulations use the same class).
import { ManualClock } from '../../base/manual-clock.js';
import type { Clock } from '../ports.js';

export class FakeClock extends ManualClock implements Clock {}
