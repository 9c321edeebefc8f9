// Secrets are wrapped so that logging, JSON or inspection of any object that holds one prints
// `<redacted>` instead of the bytes.
import { inspect } from 'node:util';

const REDACTED = '<redacted>';

export class Secret<T = Uint8Array> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  /** The secret itself; call only where the bytes are used, never to print or log. */
  expose(): T {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

export const redacted = REDACTED;
