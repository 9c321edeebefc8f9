// One suite of checks every TunDevice, DatagramSocket(Factory) and Clock implementation must pass. The
// Linux implementations run it in test/netns/platform-linux.test.ts and test/unit/platform-linux.test.ts,
// the memory twins in test/unit/platform-memory.test.ts, so the twins behave like the real thing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, Datagram, DatagramSocket, DatagramSocketFactory, TunDevice } from '../../src/platform/ports.js';

// ---------------------------------------------------------------------------------------------------
// Fixtures

/** How a suite lets time pass: memory twins advance a FakeClock, Linux sleeps a little. */
export interface Settle {
  /** Lets pending work happen (one step). */
  settle(): Promise<void>;
  /** Steps before `eventually` gives up (steps × step length ≈ a few seconds of real or fake time). */
  readonly maxSteps: number;
}

export async function eventually(s: Settle, cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < s.maxSteps; i++) {
    if (cond()) return;
    await s.settle();
  }
  if (!cond()) assert.fail(`timed out waiting for ${what}`);
}

async function quietly(s: Settle, steps = 5): Promise<void> {
  for (let i = 0; i < steps; i++) await s.settle();
}

export interface ClockFixture {
  clock: Clock;
  /** Lets `ms` of this clock's time pass, firing due timers. */
  wait(ms: number): Promise<void>;
}

export interface UdpHost {
  factory: DatagramSocketFactory;
  ipv4: string;
  ipv6: string;
}

export interface UdpFixture extends Settle {
  /** Two hosts that reach each other; they may be the same machine (Linux loopback). */
  a: UdpHost;
  b: UdpHost;
  /** An address none of the hosts has (binding to it must fail). */
  foreignIpv4: string;
  close(): Promise<void>;
}

export interface TunFixture extends Settle {
  /** Open device named `name`, configured so that hostAddr is the local side and peerAddr is beyond it. */
  tun: TunDevice;
  name: string;
  hostAddr: string;
  peerAddr: string;
  /** The local stack sends a UDP datagram hostAddr:srcPort -> peerAddr:dstPort (it leaves via the TUN). */
  hostSendUdp(payload: Buffer, srcPort: number, dstPort: number): Promise<void>;
  /** A local UDP receiver on hostAddr:port (what the TUN writes towards it ends up here). */
  hostListenUdp(port: number): Promise<{ received: Datagram[]; close(): Promise<void> }>;
  /** Whether the device still exists on the host. */
  exists(): Promise<boolean>;
  /** Releases whatever the fixture made besides the device. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// IPv4/UDP/ICMP packets, just enough for the checks (and for fixtures that play the local stack).

function checksum(buf: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length % 2 === 1) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4Bytes(addr: string): number[] {
  return addr.split('.').map(Number);
}

function ipv4Header(src: string, dst: string, protocol: number, payloadLength: number, id = 1): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payloadLength, 2);
  h.writeUInt16BE(id & 0xffff, 4);
  h[8] = 64;
  h[9] = protocol;
  Buffer.from(ipv4Bytes(src)).copy(h, 12);
  Buffer.from(ipv4Bytes(dst)).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return h;
}

export function buildIPv4Udp(src: string, srcPort: number, dst: string, dstPort: number, payload: Uint8Array): Buffer {
  const udp = Buffer.alloc(8 + payload.length);
  udp.writeUInt16BE(srcPort, 0);
  udp.writeUInt16BE(dstPort, 2);
  udp.writeUInt16BE(udp.length, 4);
  Buffer.from(payload).copy(udp, 8);
  const pseudo = Buffer.concat([Buffer.from(ipv4Bytes(src)), Buffer.from(ipv4Bytes(dst)), Buffer.from([0, 17])]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(udp.length);
  const sum = checksum(Buffer.concat([pseudo, len, udp]));
  udp.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  return Buffer.concat([ipv4Header(src, dst, 17, udp.length), udp]);
}

export interface ParsedUdp {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

/** Parses an IPv4/UDP packet; undefined for anything else. */
export function parseIPv4Udp(p: Uint8Array): ParsedUdp | undefined {
  if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== 17) return undefined;
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  const ihl = (b[0]! & 0x0f) * 4;
  const total = b.readUInt16BE(2);
  if (total > b.length || ihl + 8 > total) return undefined;
  return {
    src: [...b.subarray(12, 16)].join('.'),
    dst: [...b.subarray(16, 20)].join('.'),
    srcPort: b.readUInt16BE(ihl),
    dstPort: b.readUInt16BE(ihl + 2),
    payload: Buffer.from(b.subarray(ihl + 8, total)),
  };
}

export function buildIcmpEcho(src: string, dst: string, type: 0 | 8, id: number, seq: number, data: Buffer): Buffer {
  const icmp = Buffer.alloc(8 + data.length);
  icmp[0] = type;
  icmp.writeUInt16BE(id, 4);
  icmp.writeUInt16BE(seq, 6);
  data.copy(icmp, 8);
  icmp.writeUInt16BE(checksum(icmp), 2);
  return Buffer.concat([ipv4Header(src, dst, 1, icmp.length), icmp]);
}

/** Parses an IPv4 ICMP echo request/reply; undefined for anything else. */
export function parseIcmpEcho(
  p: Uint8Array,
): { src: string; dst: string; type: number; id: number; seq: number } | undefined {
  if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== 1) return undefined;
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  const ihl = (b[0]! & 0x0f) * 4;
  const type = b[ihl]!;
  if (type !== 0 && type !== 8) return undefined;
  return {
    src: [...b.subarray(12, 16)].join('.'),
    dst: [...b.subarray(16, 20)].join('.'),
    type,
    id: b.readUInt16BE(ihl + 4),
    seq: b.readUInt16BE(ihl + 6),
  };
}

// ---------------------------------------------------------------------------------------------------
// Clock

export function clockCompliance(label: string, make: () => ClockFixture): void {
  test(`${label}: now() never goes back and advances with time`, async () => {
    const { clock, wait } = make();
    const t0 = clock.now();
    const w0 = clock.wallNow();
    await wait(20);
    const t1 = clock.now();
    assert.ok(t1 >= t0 + 19, `now advanced by ${t1 - t0} ms over a 20 ms wait`);
    assert.ok(clock.wallNow() >= w0, 'wallNow went back');
    assert.ok(Number.isFinite(w0) && w0 > Date.UTC(2020, 0, 1), 'wallNow is epoch milliseconds');
  });

  test(`${label}: after() fires once, not before its delay, in due order`, async () => {
    const { clock, wait } = make();
    const start = clock.now();
    const fired: { name: string; at: number }[] = [];
    clock.after(30, () => fired.push({ name: 'c', at: clock.now() }));
    clock.after(10, () => fired.push({ name: 'a', at: clock.now() }));
    clock.after(20, () => fired.push({ name: 'b', at: clock.now() }));
    clock.after(0, () => fired.push({ name: 'zero', at: clock.now() }));
    await wait(60);
    assert.deepEqual(
      fired.map((f) => f.name),
      ['zero', 'a', 'b', 'c'],
    );
    // Node's timers run on the loop's millisecond clock, so allow 1 ms of rounding against now().
    for (const [f, ms] of [
      [fired[1]!, 10],
      [fired[2]!, 20],
      [fired[3]!, 30],
    ] as const) {
      assert.ok(f.at >= start + ms - 1, `${f.name} fired at +${f.at - start} ms, due at +${ms}`);
    }
    await wait(40);
    assert.equal(fired.length, 4, 'a timer fired twice');
  });

  test(`${label}: cancel() stops a timer; cancelling twice or after firing is harmless`, async () => {
    const { clock, wait } = make();
    let fired = 0;
    const t = clock.after(10, () => fired++);
    const u = clock.after(5, () => fired++);
    t.cancel();
    t.cancel();
    await wait(30);
    u.cancel();
    assert.equal(fired, 1);
  });

  test(`${label}: a timer may set and cancel timers from inside its callback`, async () => {
    const { clock, wait } = make();
    const order: string[] = [];
    const victim = clock.after(20, () => order.push('victim'));
    clock.after(5, () => {
      order.push('outer');
      victim.cancel();
      clock.after(5, () => order.push('inner'));
    });
    await wait(200);
    assert.deepEqual(order, ['outer', 'inner']);
  });
}

// ---------------------------------------------------------------------------------------------------
// Datagram sockets

function collect(): { got: Datagram[]; push: (d: Datagram) => void } {
  const got: Datagram[] = [];
  return { got, push: (d) => got.push(d) };
}

export function udpCompliance(label: string, make: () => Promise<UdpFixture>): void {
  const withFixture = (name: string, fn: (fx: UdpFixture) => Promise<void>): void => {
    test(`${label}: ${name}`, { timeout: 30_000 }, async () => {
      const raw = await make();
      // Every socket a check opens is closed afterwards even when the check fails, so a failure is
      // reported instead of an open socket keeping the test process alive.
      const opened: DatagramSocket[] = [];
      const track = (h: UdpHost): UdpHost => ({
        ...h,
        factory: {
          bind: async (host, port) => {
            const s = await h.factory.bind(host, port);
            opened.push(s);
            return s;
          },
        },
      });
      const fx: UdpFixture = { ...raw, settle: () => raw.settle(), a: track(raw.a), b: track(raw.b) };
      try {
        await fn(fx);
      } finally {
        await Promise.all(opened.map((s) => s.close()));
        await raw.close();
      }
    });
  };

  withFixture('IPv4 sockets bound to 0.0.0.0 exchange datagrams both ways', async (fx) => {
    const a = await fx.a.factory.bind('0.0.0.0', 0);
    const b = await fx.b.factory.bind('0.0.0.0', 0);
    assert.ok(a.localPort() > 0 && a.localPort() < 65536);
    const atB = collect();
    const atA = collect();
    b.onMessage(atB.push);
    a.onMessage(atA.push);
    a.send(Buffer.from('ping'), { host: fx.b.ipv4, port: b.localPort() });
    await eventually(fx, () => atB.got.length === 1, 'a -> b');
    assert.equal(atB.got[0]!.data.toString(), 'ping');
    assert.deepEqual(atB.got[0]!.from, { host: fx.a.ipv4, port: a.localPort() });
    b.send(Buffer.from('pong'), atB.got[0]!.from);
    await eventually(fx, () => atA.got.length === 1, 'b -> a reply');
    assert.equal(atA.got[0]!.data.toString(), 'pong');
    assert.deepEqual(atA.got[0]!.from, { host: fx.b.ipv4, port: b.localPort() });
    await a.close();
    await b.close();
  });

  withFixture('a dual-stack "::" socket sees IPv4 peers as plain IPv4 and replies to them', async (fx) => {
    const dual = await fx.b.factory.bind('::', 0);
    const v4 = await fx.a.factory.bind('0.0.0.0', 0);
    const atDual = collect();
    const atV4 = collect();
    dual.onMessage(atDual.push);
    v4.onMessage(atV4.push);
    v4.send(Buffer.from('hello'), { host: fx.b.ipv4, port: dual.localPort() });
    await eventually(fx, () => atDual.got.length === 1, 'IPv4 datagram at dual-stack socket');
    assert.deepEqual(atDual.got[0]!.from, { host: fx.a.ipv4, port: v4.localPort() });
    dual.send(Buffer.from('back'), atDual.got[0]!.from);
    // An explicitly mapped destination is accepted too.
    dual.send(Buffer.from('mapped'), { host: `::ffff:${fx.a.ipv4}`, port: v4.localPort() });
    await eventually(fx, () => atV4.got.length === 2, 'replies from dual-stack socket');
    assert.deepEqual(atV4.got.map((d) => d.data.toString()).sort(), ['back', 'mapped']);
    assert.deepEqual(atV4.got[0]!.from, { host: fx.b.ipv4, port: dual.localPort() });
    await dual.close();
    await v4.close();
  });

  withFixture('IPv6 between dual-stack sockets and to a socket bound to a specific IPv6 address', async (fx) => {
    const a = await fx.a.factory.bind('::', 0);
    const b = await fx.b.factory.bind(fx.b.ipv6, 0);
    const atB = collect();
    const atA = collect();
    b.onMessage(atB.push);
    a.onMessage(atA.push);
    a.send(Buffer.from('six'), { host: fx.b.ipv6, port: b.localPort() });
    await eventually(fx, () => atB.got.length === 1, 'IPv6 datagram');
    assert.deepEqual(atB.got[0]!.from, { host: fx.a.ipv6, port: a.localPort() });
    b.send(Buffer.from('six back'), atB.got[0]!.from);
    await eventually(fx, () => atA.got.length === 1, 'IPv6 reply');
    assert.deepEqual(atA.got[0]!.from, { host: fx.b.ipv6, port: b.localPort() });
    await a.close();
    await b.close();
  });

  withFixture('a socket bound to a specific IPv4 address receives and sends from it', async (fx) => {
    const b = await fx.b.factory.bind(fx.b.ipv4, 0);
    const a = await fx.a.factory.bind(fx.a.ipv4, 0);
    const atB = collect();
    b.onMessage(atB.push);
    a.send(Buffer.from('x'), { host: fx.b.ipv4, port: b.localPort() });
    await eventually(fx, () => atB.got.length === 1, 'datagram to specific IPv4');
    assert.deepEqual(atB.got[0]!.from, { host: fx.a.ipv4, port: a.localPort() });
    await a.close();
    await b.close();
  });

  withFixture('binding a port twice, or an address the host lacks, fails with SOCKET_BIND_FAILED', async (fx) => {
    const a = await fx.a.factory.bind('0.0.0.0', 0);
    await assert.rejects(fx.a.factory.bind('0.0.0.0', a.localPort()), { code: 'SOCKET_BIND_FAILED' });
    await assert.rejects(fx.a.factory.bind('::', a.localPort()), { code: 'SOCKET_BIND_FAILED' });
    await assert.rejects(fx.a.factory.bind(fx.foreignIpv4, 0), { code: 'SOCKET_BIND_FAILED' });
    await assert.rejects(fx.a.factory.bind('not-an-ip', 0), { code: 'SOCKET_BIND_FAILED' });
    await a.close();
    const again = await fx.a.factory.bind('0.0.0.0', a.localPort());
    assert.equal(again.localPort(), a.localPort(), 'port is free again after close');
    await again.close();
  });

  withFixture('sending to a closed port or an unreachable family neither throws nor breaks the socket', async (fx) => {
    const a = await fx.a.factory.bind('0.0.0.0', 0);
    const b = await fx.b.factory.bind('0.0.0.0', 0);
    const probe = await fx.b.factory.bind('0.0.0.0', 0);
    const deadPort = probe.localPort();
    await probe.close();
    const atB = collect();
    b.onMessage(atB.push);
    for (let i = 0; i < 3; i++) a.send(Buffer.from('nobody'), { host: fx.b.ipv4, port: deadPort });
    a.send(Buffer.from('v6 from v4 socket'), { host: fx.b.ipv6, port: b.localPort() });
    await quietly(fx);
    a.send(Buffer.from('still alive'), { host: fx.b.ipv4, port: b.localPort() });
    await eventually(fx, () => atB.got.length === 1, 'datagram after errors');
    assert.equal(atB.got[0]!.data.toString(), 'still alive');
    await a.close();
    await b.close();
  });

  withFixture('datagrams of 1 to 60000 bytes arrive intact and in their own messages', async (fx) => {
    const a = await fx.a.factory.bind('0.0.0.0', 0);
    const b = await fx.b.factory.bind('0.0.0.0', 0);
    const atB = collect();
    b.onMessage(atB.push);
    const sizes = [1, 1400, 9000, 60000];
    const sent = sizes.map((n, i) => Buffer.alloc(n, i + 1));
    for (const p of sent) a.send(p, { host: fx.b.ipv4, port: b.localPort() });
    await eventually(fx, () => atB.got.length === sizes.length, 'all sizes');
    const got = atB.got.map((d) => d.data).sort((x, y) => x.length - y.length);
    got.forEach((d, i) => assert.ok(d.equals(sent[i]!), `datagram of ${sizes[i]} bytes differs`));
    await a.close();
    await b.close();
  });

  withFixture('a burst of 50 datagrams all arrives', async (fx) => {
    const a = await fx.a.factory.bind('0.0.0.0', 0);
    const b = await fx.b.factory.bind('0.0.0.0', 0);
    const atB = collect();
    b.onMessage(atB.push);
    for (let i = 0; i < 50; i++) a.send(Buffer.from([i]), { host: fx.b.ipv4, port: b.localPort() });
    await eventually(fx, () => atB.got.length === 50, '50 datagrams');
    assert.deepEqual(
      atB.got.map((d) => d.data[0]).sort((x, y) => x! - y!),
      Array.from({ length: 50 }, (_, i) => i),
    );
    await a.close();
    await b.close();
  });

  withFixture('after close() nothing is delivered, send() is a no-op, close() again is fine', async (fx) => {
    const a = await fx.a.factory.bind('0.0.0.0', 0);
    const b = await fx.b.factory.bind('0.0.0.0', 0);
    const atB = collect();
    b.onMessage(atB.push);
    const port = b.localPort();
    await b.close();
    a.send(Buffer.from('late'), { host: fx.b.ipv4, port });
    b.send(Buffer.from('from closed'), { host: fx.a.ipv4, port: a.localPort() });
    await quietly(fx);
    assert.equal(atB.got.length, 0);
    await b.close();
    await a.close();
  });
}

// ---------------------------------------------------------------------------------------------------
// TUN devices

export function tunCompliance(label: string, make: () => Promise<TunFixture>): void {
  const withFixture = (name: string, fn: (fx: TunFixture) => Promise<void>): void => {
    test(`${label}: ${name}`, { timeout: 30_000 }, async () => {
      const fx = await make();
      try {
        await fn(fx);
      } finally {
        await fx.tun.close();
        await fx.close();
      }
    });
  };

  const udpOnTun = (fx: TunFixture, batches: Buffer[][], dstPort: number): ParsedUdp[] =>
    batches
      .flat()
      .map(parseIPv4Udp)
      .filter((u): u is ParsedUdp => u !== undefined && u.dstPort === dstPort && u.dst === fx.peerAddr);

  withFixture('has the requested name and exists while open', async (fx) => {
    assert.equal(fx.tun.name, fx.name);
    assert.ok(fx.tun.fd === undefined || (Number.isInteger(fx.tun.fd) && fx.tun.fd >= 0));
    assert.equal(await fx.exists(), true);
  });

  withFixture('datagrams the local stack sends through the device arrive as IPv4/UDP packets, in order', async (fx) => {
    const batches: Buffer[][] = [];
    fx.tun.onPackets((packets) => {
      assert.ok(Array.isArray(packets) && packets.length > 0, 'empty batch');
      for (const p of packets) assert.ok(Buffer.isBuffer(p), 'packet is not a Buffer');
      batches.push(packets);
    });
    const n = 200;
    for (let i = 0; i < n; i++) await fx.hostSendUdp(Buffer.from(`payload-${i}`), 40000, 5555);
    await eventually(fx, () => udpOnTun(fx, batches, 5555).length >= n, `${n} packets on the device`);
    const got = udpOnTun(fx, batches, 5555);
    assert.equal(got.length, n);
    got.forEach((u, i) => {
      assert.equal(u.payload.toString(), `payload-${i}`);
      assert.equal(u.src, fx.hostAddr);
      assert.equal(u.srcPort, 40000);
    });
  });

  withFixture('packets written into the device reach the local stack', async (fx) => {
    const rx = await fx.hostListenUdp(6666);
    try {
      for (let i = 0; i < 50; i++) {
        const ok = fx.tun.write(buildIPv4Udp(fx.peerAddr, 7777, fx.hostAddr, 6666, Buffer.from(`in-${i}`)));
        assert.equal(ok, true, `write ${i} refused`);
      }
      await eventually(fx, () => rx.received.length === 50, '50 datagrams at the local socket');
      assert.deepEqual(
        rx.received.map((d) => d.data.toString()),
        Array.from({ length: 50 }, (_, i) => `in-${i}`),
      );
      assert.deepEqual(rx.received[0]!.from, { host: fx.peerAddr, port: 7777 });
    } finally {
      await rx.close();
    }
  });

  withFixture('a write of bytes that are not an IP packet is refused without throwing', async (fx) => {
    assert.equal(fx.tun.write(Buffer.from([0x00, 0x01, 0x02, 0x03])), false);
    assert.equal(fx.tun.write(Buffer.alloc(0)), false);
  });

  withFixture('a second onPackets() replaces the first handler', async (fx) => {
    const first: Buffer[][] = [];
    const second: Buffer[][] = [];
    fx.tun.onPackets((p) => first.push(p));
    fx.tun.onPackets((p) => second.push(p));
    await fx.hostSendUdp(Buffer.from('which'), 40001, 5556);
    await eventually(fx, () => udpOnTun(fx, second, 5556).length === 1, 'packet at second handler');
    assert.equal(udpOnTun(fx, first, 5556).length, 0);
  });

  withFixture('close() stops delivery, refuses writes, removes the device, and may be repeated', async (fx) => {
    const batches: Buffer[][] = [];
    fx.tun.onPackets((p) => batches.push(p));
    await fx.hostSendUdp(Buffer.from('before'), 40002, 5557);
    await eventually(fx, () => udpOnTun(fx, batches, 5557).length === 1, 'packet before close');
    await fx.tun.close();
    assert.equal(await fx.exists(), false, 'device still exists after close');
    assert.equal(fx.tun.write(buildIPv4Udp(fx.peerAddr, 1, fx.hostAddr, 2, Buffer.from('x'))), false);
    await fx.hostSendUdp(Buffer.from('after'), 40002, 5557);
    await quietly(fx);
    assert.equal(udpOnTun(fx, batches, 5557).length, 1, 'delivered after close');
    await fx.tun.close();
  });
}
