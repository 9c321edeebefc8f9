// Traffic helpers for netns tests: ping, a checksummed TCP transfer, and UDP listen/send (unicast,
// broadcast, multicast). The programs are small plain-JS node scripts run inside the namespaces.
import { waitFor, type Lab, type LabProcess } from './netns.js';

export interface PingResult {
  transmitted: number;
  received: number;
  /** Average round trip of the replies, undefined when none came back. */
  rttMs: number | undefined;
  output: string;
}

/** Pings `addr` (IPv4 or IPv6) from namespace `ns`; never throws for lost replies. */
export async function ping(
  lab: Lab,
  ns: string,
  addr: string,
  opts: { count?: number; timeoutS?: number; intervalS?: number } = {},
): Promise<PingResult> {
  const count = opts.count ?? 3;
  const timeoutS = opts.timeoutS ?? 2;
  const intervalS = opts.intervalS ?? 0.2;
  const deadlineS = Math.ceil(count * intervalS + timeoutS);
  const r = await lab.exec(
    ns,
    'ping',
    ['-n', '-q', '-c', String(count), '-i', String(intervalS), '-W', String(timeoutS), '-w', String(deadlineS), addr],
    { allowFailure: true, timeoutMs: (deadlineS + 5) * 1000 },
  );
  const output = r.stdout + r.stderr;
  const stats = /(\d+) packets transmitted, (\d+) received/.exec(output);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(output);
  return {
    transmitted: stats ? Number(stats[1]) : 0,
    // With -w, ping keeps sending until `count` replies are in; when the first replies wait for a
    // handshake, the extra requests' replies arrive too. The question asked is whether `count` came back.
    received: stats ? Math.min(Number(stats[2]), count) : 0,
    rttMs: rtt ? Number(rtt[1]) : undefined,
    output,
  };
}

// ---------------------------------------------------------------------------------------------------
// TCP transfer

const tcpReceiver = `
const net = require('node:net'), crypto = require('node:crypto');
const [host, port] = [process.argv[1], Number(process.argv[2])];
const server = net.createServer((s) => {
  const h = crypto.createHash('sha256'); let n = 0;
  s.on('data', (d) => { h.update(d); n += d.length; });
  s.on('end', () => { console.log(JSON.stringify({ sha256: h.digest('hex'), bytes: n })); s.end(); server.close(); });
  s.on('error', (e) => { console.error('receiver: ' + e.message); process.exit(2); });
});
server.listen(port, host, () => console.log('listening'));
`;

const tcpSender = `
const net = require('node:net'), crypto = require('node:crypto');
const [host, port, total, timeoutMs, minSeconds] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5] ?? 0)];
const deadline = Date.now() + timeoutMs;
function attempt() {
  const s = net.connect({ host, port });
  let started = 0;
  s.once('error', (e) => {
    if (started === 0 && Date.now() < deadline) { s.destroy(); setTimeout(attempt, 100); return; }
    console.error('sender: ' + e.message); process.exit(2);
  });
  s.once('connect', () => {
    started = performance.now();
    const h = crypto.createHash('sha256'); let sent = 0;
    const pump = () => {
      while (sent < total) {
        // Paced: never ahead of an even spread over minSeconds, so the transfer lasts at least that long.
        if (minSeconds > 0 && sent > (total * (performance.now() - started)) / (minSeconds * 1000)) { setTimeout(pump, 10); return; }
        const chunk = crypto.randomBytes(Math.min(65536, total - sent));
        h.update(chunk); sent += chunk.length;
        if (!s.write(chunk)) { s.once('drain', pump); return; }
      }
      s.end();
    };
    pump();
    s.resume();
    s.on('end', () => {
      console.log(JSON.stringify({ sha256: h.digest('hex'), bytes: sent, seconds: (performance.now() - started) / 1000 }));
      process.exit(0);
    });
  });
}
attempt();
`;

export interface TransferResult {
  sentSha256: string;
  receivedSha256: string;
  bytesSent: number;
  bytesReceived: number;
  /** From connect until the receiver confirmed the end of the stream. */
  seconds: number;
}

function lastJson<T>(text: string): T | undefined {
  const lines = text.split('\n').filter((l) => l.startsWith('{'));
  const last = lines.at(-1);
  return last ? (JSON.parse(last) as T) : undefined;
}

/**
 * Sends `bytes` of random data over TCP from namespace `fromNs` to a receiver in `toNs` listening on
 * `toAddr`; both ends hash what they saw. The sender retries connecting until the timeout, so the
 * path may still be coming up when this is called. `minSeconds` paces it to last at least that long
 * whatever the engine's speed (for tests that act while it runs).
 */
export async function tcpTransfer(
  lab: Lab,
  fromNs: string,
  toNs: string,
  toAddr: string,
  bytes: number,
  opts: { port?: number; timeoutMs?: number; minSeconds?: number } = {},
): Promise<TransferResult> {
  const port = opts.port ?? 20000 + Math.floor(Math.random() * 30000);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const receiver = lab.spawn(toNs, process.execPath, ['-e', tcpReceiver, toAddr, String(port)]);
  try {
    await waitFor(() => receiver.lines().includes('listening') || !receiver.running, {
      what: `TCP receiver on [${toAddr}]:${port} in ${toNs}`,
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    if (!receiver.running) throw new Error(`TCP receiver in ${toNs} exited: ${receiver.log()}`);
    const sent = await lab.exec(
      fromNs,
      process.execPath,
      ['-e', tcpSender, toAddr, String(port), String(bytes), String(timeoutMs), String(opts.minSeconds ?? 0)],
      {
        timeoutMs: timeoutMs + 5000,
      },
    );
    const s = lastJson<{ sha256: string; bytes: number; seconds: number }>(sent.stdout);
    await receiver.waitExit(10_000);
    const r = lastJson<{ sha256: string; bytes: number }>(receiver.lines().join('\n'));
    if (!s || !r)
      throw new Error(
        `tcpTransfer: missing result (sender: ${sent.stdout} ${sent.stderr}; receiver: ${receiver.log()})`,
      );
    return {
      sentSha256: s.sha256,
      receivedSha256: r.sha256,
      bytesSent: s.bytes,
      bytesReceived: r.bytes,
      seconds: s.seconds,
    };
  } finally {
    receiver.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------------
// UDP

const udpListener = `
const dgram = require('node:dgram');
const o = JSON.parse(process.argv[1]);
const s = dgram.createSocket({ type: o.address.includes(':') ? 'udp6' : 'udp4', reuseAddr: true });
s.on('error', (e) => { console.error('listener: ' + e.message); process.exit(2); });
s.on('message', (m, r) => console.log(JSON.stringify({ from: r.address, port: r.port, size: m.length, text: m.toString('utf8') })));
s.bind(o.port, o.address, () => {
  for (const g of o.groups) s.addMembership(g, o.iface);
  console.log('ready');
});
`;

const udpSender = `
const dgram = require('node:dgram');
const o = JSON.parse(process.argv[1]);
const s = dgram.createSocket({ type: o.to.includes(':') ? 'udp6' : 'udp4' });
s.on('error', (e) => { console.error('sender: ' + e.message); process.exit(2); });
s.bind(o.bindPort, o.bind, async () => {
  if (o.broadcast) s.setBroadcast(true);
  if (o.ttl !== undefined) s.setMulticastTTL(o.ttl);
  if (o.iface !== undefined) s.setMulticastInterface(o.iface);
  for (let i = 0; i < o.count; i++) {
    await new Promise((res, rej) => s.send(Buffer.from(o.text.replace('{i}', String(i))), o.port, o.to, (e) => (e ? rej(e) : res())));
    if (o.intervalMs > 0) await new Promise((r) => setTimeout(r, o.intervalMs));
  }
  s.close();
});
`;

export interface UdpMessage {
  from: string;
  port: number;
  size: number;
  text: string;
}

export interface UdpListener {
  process: LabProcess;
  /** Messages received so far. */
  messages(): UdpMessage[];
  /** Waits until at least n messages arrived (or throws naming the listener). */
  waitForCount(n: number, timeoutMs?: number): Promise<UdpMessage[]>;
  /** Stops the listener and returns everything it received. */
  stop(): Promise<UdpMessage[]>;
}

/**
 * A UDP listener in `ns` on address:port ('0.0.0.0' by default; '::' for IPv6), optionally joined to
 * multicast groups (on interface address `iface`, e.g. the node's IPv4 or '::%eth0'). Resolves once bound.
 */
export async function udpListen(
  lab: Lab,
  ns: string,
  opts: { port: number; address?: string; groups?: string[]; iface?: string },
): Promise<UdpListener> {
  const conf = { port: opts.port, address: opts.address ?? '0.0.0.0', groups: opts.groups ?? [], iface: opts.iface };
  const proc = lab.spawn(ns, process.execPath, ['-e', udpListener, JSON.stringify(conf)]);
  const what = `UDP listener on ${conf.address}:${conf.port} in ${ns}`;
  await waitFor(() => proc.lines().includes('ready') || !proc.running, { what, timeoutMs: 10_000, intervalMs: 20 });
  if (!proc.running) throw new Error(`${what} exited: ${proc.log()}`);
  const messages = (): UdpMessage[] =>
    proc
      .lines()
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as UdpMessage);
  return {
    process: proc,
    messages,
    waitForCount: (n, timeoutMs = 10_000) =>
      waitFor(() => (messages().length >= n ? messages() : undefined), {
        what: `${n} datagrams at ${what}`,
        timeoutMs,
      }),
    stop: async () => {
      proc.kill('SIGTERM');
      await proc.waitExit(5000).catch(() => proc.kill('SIGKILL'));
      return messages();
    },
  };
}

/**
 * Sends `count` datagrams from `ns` to to:port. `text` may contain {i}, replaced by the sequence number.
 * For broadcast set `broadcast`; for multicast, `ttl` and `iface` (outgoing interface address).
 */
export async function udpSend(
  lab: Lab,
  ns: string,
  opts: {
    to: string;
    port: number;
    text?: string;
    count?: number;
    intervalMs?: number;
    bind?: string;
    bindPort?: number;
    broadcast?: boolean;
    ttl?: number;
    iface?: string;
  },
): Promise<void> {
  const conf = {
    to: opts.to,
    port: opts.port,
    text: opts.text ?? 'datagram {i}',
    count: opts.count ?? 1,
    intervalMs: opts.intervalMs ?? 0,
    bind: opts.bind ?? (opts.to.includes(':') ? '::' : '0.0.0.0'),
    bindPort: opts.bindPort ?? 0,
    broadcast: opts.broadcast ?? false,
    ttl: opts.ttl,
    iface: opts.iface,
  };
  await lab.exec(ns, process.execPath, ['-e', udpSender, JSON.stringify(conf)], { timeoutMs: 30_000 });
}
