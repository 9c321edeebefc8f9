// An in-memory TUN device. The "kernel side" belongs to the test or simulation: inject() plays the local
// stack sending packets into the device, and packets the device writes are read back with onWritten()
// or takeWritten(). Delivery is synchronous and copies, like a real device owns its buffers.
import { TunmeshError } from '../../base/errors.js';
import type { TunDevice, TunFactory } from '../ports.js';

export class MemoryTun implements TunDevice {
  readonly fd = undefined;
  private handler: ((packets: Buffer[]) => void) | undefined;
  private writtenHandler: ((packet: Buffer) => void) | undefined;
  private readonly written: Buffer[] = [];
  private closedFlag = false;
  private onClose: (() => void) | undefined;

  /** Packets written and not yet taken are kept up to this many; older ones are dropped (and counted). */
  readonly keepWrittenMax: number;
  droppedWritten = 0;
  /** Packets injected while no handler was set or after close; a real TUN would also lose them. */
  droppedInjected = 0;

  constructor(
    readonly name: string,
    opts: { keepWrittenMax?: number; onClose?: () => void } = {},
  ) {
    this.keepWrittenMax = opts.keepWrittenMax ?? 4096;
    this.onClose = opts.onClose;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  onPackets(handler: (packets: Buffer[]) => void): void {
    this.handler = handler;
  }

  write(packet: Uint8Array): boolean {
    if (this.closedFlag) return false;
    const version = packet.length > 0 ? packet[0]! >> 4 : 0;
    if (version !== 4 && version !== 6) return false; // Linux refuses these with EINVAL
    const copy = Buffer.from(packet);
    if (this.writtenHandler) {
      this.writtenHandler(copy);
      return true;
    }
    if (this.written.length >= this.keepWrittenMax) {
      this.written.shift();
      this.droppedWritten++;
    }
    this.written.push(copy);
    return true;
  }

  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.handler = undefined;
    this.onClose?.();
    this.onClose = undefined;
  }

  // ---- kernel side ----

  /** Delivers packets to the device's reader as one batch (the local stack sending into the TUN). */
  inject(packets: readonly Uint8Array[]): void {
    if (packets.length === 0) return;
    if (this.closedFlag || !this.handler) {
      this.droppedInjected += packets.length;
      return;
    }
    this.handler(packets.map((p) => Buffer.from(p)));
  }

  /** Receives every packet the device writes from now on (instead of keeping them for takeWritten). */
  onWritten(handler: ((packet: Buffer) => void) | undefined): void {
    this.writtenHandler = handler;
  }

  /** Returns and forgets the packets written so far. */
  takeWritten(): Buffer[] {
    return this.written.splice(0, this.written.length);
  }
}

/** Creates MemoryTuns and knows which exist, as the kernel knows which interfaces exist. */
export class MemoryTunFactory implements TunFactory {
  private readonly devices = new Map<string, MemoryTun>();

  async open(name: string): Promise<MemoryTun> {
    if (this.devices.has(name)) {
      throw new TunmeshError('TUN_SETUP_FAILED', `cannot create TUN device ${name}: device busy (memory twin)`);
    }
    const tun = new MemoryTun(name, { onClose: () => this.devices.delete(name) });
    this.devices.set(name, tun);
    return tun;
  }

  get(name: string): MemoryTun | undefined {
    return this.devices.get(name);
  }

  exists(name: string): boolean {
    return this.devices.has(name);
  }
}
