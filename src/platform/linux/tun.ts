// TUN devices on the native addon: a reader thread delivers batches, writes are one write() each.
import { closeSync } from 'node:fs';
import { TunmeshError } from '../../base/errors.js';
import type { Logger } from '../../base/log.js';
import type { TunDevice, TunFactory } from '../ports.js';
import { loadNative, type NativeAddon, type TunReaderHandle } from './native.js';

export interface LinuxTunOptions {
  log?: Logger;
  /** For tests; loaded with loadNative() otherwise. */
  native?: NativeAddon;
}

export class LinuxTunFactory implements TunFactory {
  constructor(private readonly opts: LinuxTunOptions = {}) {}

  async open(name: string): Promise<LinuxTun> {
    const native = this.opts.native ?? loadNative();
    let opened: { fd: number; name: string };
    try {
      opened = native.openTun(name);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new TunmeshError('TUN_SETUP_FAILED', `cannot create TUN device ${name}: ${reason}`, {
        hint: 'needs CAP_NET_ADMIN and /dev/net/tun (in a container: --cap-add NET_ADMIN --device /dev/net/tun)',
        cause,
      });
    }
    return new LinuxTun(native, opened.fd, opened.name, this.opts.log);
  }
}

export class LinuxTun implements TunDevice {
  private handler: ((packets: Buffer[]) => void) | undefined;
  private reader: TunReaderHandle | undefined;
  private closed = false;
  private writeFailures = 0;

  constructor(
    private readonly native: NativeAddon,
    readonly fd: number,
    readonly name: string,
    private readonly log?: Logger,
  ) {}

  onPackets(handler: (packets: Buffer[]) => void): void {
    this.handler = handler;
    if (this.reader || this.closed) return;
    this.reader = this.native.startTunReader(
      this.fd,
      (packets) => {
        if (this.closed || !this.handler) return;
        try {
          this.handler(packets);
        } catch (err) {
          // A throwing handler must not take the process down from inside the addon's callback.
          this.log?.error({ err, device: this.name }, 'tun packet handler threw');
        }
      },
      (message) => this.log?.error({ device: this.name, reason: message }, 'tun reader stopped'),
    );
  }

  write(packet: Uint8Array): boolean {
    if (this.closed) return false;
    try {
      if (this.native.writeTun(this.fd, packet)) return true;
    } catch (err) {
      // EINVAL (not an IP packet), EIO (device down): the device refused this packet; the caller counts it.
      if (this.writeFailures++ === 0) this.log?.warn({ err, device: this.name }, 'tun write failed');
    }
    return false;
  }

  /** Reader counters and refused writes, for metrics and tests. */
  stats(): { packetsRead: number; batchesRead: number; writeFailures: number } {
    const s = this.reader?.stats();
    return { packetsRead: s?.packets ?? 0, batchesRead: s?.batches ?? 0, writeFailures: this.writeFailures };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reader?.stop(); // joins the thread before the fd goes, so the fd number cannot be reused under it
    this.reader = undefined;
    closeSync(this.fd);
  }
}
