// The small interfaces between tunmesh and the operating system. Each has a Linux implementation in
// linux/ and an in-memory twin in memory/ that passes the same compliance tests.

export interface Endpoint {
  /** IP literal (IPv4 dotted or IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
}

export function endpointKey(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** A layer-3 TUN device: whole IPv4/IPv6 packets in and out, no packet-info header. */
export interface TunDevice {
  readonly name: string;
  /** Called with batches of packets read from the device; buffers are owned by the handler. */
  onPackets(handler: (packets: Buffer[]) => void): void;
  /** Writes one packet into the device (towards local applications). False if the device refused it. */
  write(packet: Uint8Array): boolean;
  /** The file descriptor, for engines that run their own I/O threads; undefined for twins. */
  readonly fd: number | undefined;
  /** Stops reading and closes the device; a non-persistent TUN disappears with its last fd. */
  close(): Promise<void>;
}

export interface TunFactory {
  open(name: string): Promise<TunDevice>;
}

/** Address, route and link configuration of a device. */
export interface NetConfig {
  setMtu(device: string, mtu: number): Promise<void>;
  setUp(device: string): Promise<void>;
  addAddress(device: string, cidr: string): Promise<void>;
  addRoute(device: string, cidr: string): Promise<void>;
  delRoute(device: string, cidr: string): Promise<void>;
}

export interface Datagram {
  readonly data: Buffer;
  readonly from: Endpoint;
}

/** One bound UDP socket (dual-stack where the host allows). */
export interface DatagramSocket {
  onMessage(handler: (d: Datagram) => void): void;
  send(data: Uint8Array, to: Endpoint): void;
  localPort(): number;
  close(): Promise<void>;
}

export interface DatagramSocketFactory {
  bind(host: string, port: number): Promise<DatagramSocket>;
}

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds, for timers and ages. */
  now(): number;
  /** Wall-clock milliseconds since the epoch, for timestamps that cross nodes. */
  wallNow(): number;
  after(ms: number, fn: () => void): Timer;
}

export interface Random {
  bytes(n: number): Uint8Array;
}

/**
 * The smallest MTU of the routes into a device (R28). The kernel bounds WireGuard's padding by the route's
 * MTU (dst_mtu); a userspace TUN never sees which route a packet took, so the bound is the smallest explicit
 * route MTU into the device, over every table and both families.
 */
export interface RouteMtuWatch {
  /** Smallest `mtu` of the routes into the device; undefined when none sets one. */
  current(): number | undefined;
  /** Called after each change of `current()`. */
  onChange(handler: (mtu: number | undefined) => void): void;
  stop(): Promise<void>;
}

export interface RouteMtuSource {
  /** Resolves after the first read; never rejects (a watch that cannot read reports undefined). */
  watch(device: string): Promise<RouteMtuWatch>;
}
