// Transport keypairs and their rotation (wireguard-go keypair.go / noise-protocol.go
// BeginSymmetricSession / receive.go ReceivedWithKeypair). A responder's fresh keypair waits in `next`
// until the initiator proves it has it (first authenticated data); the initiator's goes to `current`.
import { Secret } from '../base/secret.js';
import { ReplayFilter } from './replay.js';
import type { SessionKeys } from './handshake.js';

export class Keypair {
  readonly sendKey: Secret<Uint8Array>;
  readonly receiveKey: Secret<Uint8Array>;
  readonly isInitiator: boolean;
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly createdAt: number;
  /** Next counter to send. */
  sendNonce = 0;
  readonly replay = new ReplayFilter();

  constructor(keys: SessionKeys, createdAt: number) {
    this.sendKey = new Secret(keys.sendKey);
    this.receiveKey = new Secret(keys.receiveKey);
    this.isInitiator = keys.isInitiator;
    this.localIndex = keys.localIndex;
    this.remoteIndex = keys.remoteIndex;
    this.createdAt = createdAt;
  }

  zero(): void {
    this.sendKey.expose().fill(0);
    this.receiveKey.expose().fill(0);
  }
}

export class Keypairs {
  current: Keypair | undefined;
  previous: Keypair | undefined;
  next: Keypair | undefined;

  /** Installs a freshly derived keypair; returns the keypairs it displaced (to delete and zero). */
  install(kp: Keypair): Keypair[] {
    const removed: Keypair[] = [];
    const keep = (k: Keypair | undefined): void => {
      if (k !== undefined) removed.push(k);
    };
    if (kp.isInitiator) {
      if (this.next !== undefined) {
        // As wireguard-go: the unconfirmed `next` becomes previous (late data on it still decrypts).
        keep(this.previous);
        this.previous = this.next;
        this.next = undefined;
        keep(this.current);
      } else {
        keep(this.previous);
        this.previous = this.current;
      }
      this.current = kp;
    } else {
      keep(this.next);
      this.next = kp;
      keep(this.previous);
      this.previous = undefined;
    }
    return removed;
  }

  /**
   * Called after authenticated data arrived on `kp`. If it was `next`, it becomes current (key
   * confirmation) and the old previous falls off (returned for deletion).
   */
  receivedWith(kp: Keypair): { rotated: boolean; removed: Keypair | undefined } {
    if (this.next !== kp) return { rotated: false, removed: undefined };
    const removed = this.previous;
    this.previous = this.current;
    this.current = kp;
    this.next = undefined;
    return { rotated: true, removed };
  }

  /** Drops every keypair; returns them for deletion. */
  clear(): Keypair[] {
    const all = [this.current, this.previous, this.next].filter((k): k is Keypair => k !== undefined);
    this.current = this.previous = this.next = undefined;
    return all;
  }
}
