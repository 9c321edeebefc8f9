// Typed face of the native addon (native/index.cjs, the @tunmesh/native workspace package).
import { createRequire } from 'node:module';
import { TunmeshError } from '../../base/errors.js';

export interface TunReaderHandle {
  /** Stops and joins the reader thread; batches still queued for JS are dropped. Idempotent. */
  stop(): void;
  stats(): { packets: number; batches: number; running: boolean };
}

export interface NativeAddon {
  /** Opens /dev/net/tun as IFF_TUN|IFF_NO_PI, nonblocking, close-on-exec. */
  openTun(name: string): { fd: number; name: string };
  /** One write(); false when the device queue is full (EAGAIN/ENOBUFS); throws (with `errno`) otherwise. */
  writeTun(fd: number, packet: Uint8Array): boolean;
  /** Reader thread: batches of up to 64 packets; onError once if reading fails for good. */
  startTunReader(
    fd: number,
    onBatch: (packets: Buffer[]) => void,
    onError?: (message: string) => void,
  ): TunReaderHandle;
  /**
   * Sets no_new_privs, and empties the capability bounding set when `dropBounding` (needs CAP_SETPCAP), in
   * every thread of the process: both are per-thread (native/src/harden.cc). `failed` threads did not
   * answer; `error` is the first prctl failure; `unsupported` when not built against glibc (nothing done).
   */
  hardenThreads(dropBounding: boolean): { threads: number; failed: number; error?: string; unsupported?: boolean };
}

let cached: NativeAddon | undefined;

/**
 * Loads the addon once; throws NATIVE_UNAVAILABLE when it is not built or does not load. `specifier`
 * exists for tests of the failure path.
 */
export function loadNative(specifier = '@tunmesh/native'): NativeAddon {
  const isDefault = specifier === '@tunmesh/native';
  if (cached && isDefault) return cached;
  try {
    const require = createRequire(import.meta.url);
    const addon = require(specifier) as NativeAddon;
    if (isDefault) cached = addon;
    return addon;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new TunmeshError('NATIVE_UNAVAILABLE', `native addon could not be loaded: ${reason}`, {
      hint: 'run npm install (needs g++, make, python3)',
      cause,
    });
  }
}

/** True when the addon loads; never throws. */
export function nativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}
