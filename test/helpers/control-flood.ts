// Runs inside the attacker's namespace (node --import tsx test/helpers/control-flood.ts URL SECONDS) and
// floods a node's control port the three ways security review 2 measured (findings 1, 4, 5), all at once
// and without any credential, then prints one JSON line of what it got:
//
//   bodies    300 connections, each POST /v1/gossip with Content-Length 1 MiB and 1 MiB − 1 bytes of body
//   slots     up to 4000 connections held with an unfinished request head (the slot-exhaustion attack)
//   upgrades  up to 4000 `Upgrade: tunmesh-stream` requests without auth, never closed by this side
//
// Every loop is bounded in count and in time (SECONDS); whatever is still open at the end is destroyed.
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';

const [url, secondsArg] = process.argv.slice(2);
const target = new URL(url!);
const host = target.hostname;
const port = Number(target.port);
const deadline = Date.now() + Number(secondsArg ?? 20) * 1000;
const open = new Set<TLSSocket>();

interface Tally {
  attempted: number;
  /** The TLS handshake completed (the server admitted the connection). */
  admitted: number;
  /** Closed before our deadline (by the server, or reset at accept). */
  closedEarly: number;
  /** HTTP status lines received, by status. */
  answers: Record<string, number>;
}
const tally = (): Tally => ({ attempted: 0, admitted: 0, closedEarly: 0, answers: {} });
const results = { bodies: tally(), slots: tally(), upgrades: tally() };

function attack(kind: keyof typeof results, payload: (s: TLSSocket) => void, halfOpen = false): Promise<void> {
  const t = results[kind];
  t.attempted++;
  return new Promise((resolve) => {
    // allowHalfOpen reaches the underlying socket, though ConnectionOptions does not declare it.
    const opts: ConnectionOptions = { host, port, rejectUnauthorized: false };
    const s = connect(Object.assign(opts, { allowHalfOpen: halfOpen }));
    open.add(s);
    let settled = false;
    const done = () => {
      if (!settled) resolve();
      settled = true;
    };
    s.once('secureConnect', () => {
      t.admitted++;
      payload(s);
      done();
    });
    s.on('data', (d: Buffer) => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'))?.[1];
      if (status) t.answers[status] = (t.answers[status] ?? 0) + 1;
    });
    s.on('error', () => undefined);
    s.once('close', () => {
      open.delete(s);
      if (Date.now() < deadline) t.closedEarly++;
      done();
    });
    setTimeout(done, 3000).unref();
  });
}

const mib = 1024 * 1024;
const bodyChunk = Buffer.alloc(64 * 1024, 0x20);

async function bodies(): Promise<void> {
  const all: Promise<void>[] = [];
  for (let i = 0; i < 300; i++)
    all.push(
      attack('bodies', (s) => {
        s.write(
          `POST /v1/gossip HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${mib}\r\n\r\n`,
        );
        for (let sent = 0; sent < mib - 1; sent += bodyChunk.length)
          s.write(bodyChunk.subarray(0, Math.min(bodyChunk.length, mib - 1 - sent)));
      }),
    );
  await Promise.all(all);
}

/** Up to `count` connections of one kind, `batch` at a time, kept topped up until the deadline. */
async function hold(kind: 'slots' | 'upgrades', count: number, payload: (s: TLSSocket) => void, halfOpen: boolean) {
  const batch = 100;
  while (Date.now() < deadline && results[kind].attempted < count) {
    const wave: Promise<void>[] = [];
    for (let i = 0; i < batch && results[kind].attempted < count; i++) wave.push(attack(kind, payload, halfOpen));
    await Promise.all(wave);
  }
}

await Promise.all([
  bodies(),
  hold('slots', 4000, (s) => s.write('POST /v1/gossip HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n'), false),
  hold(
    'upgrades',
    4000,
    (s) => s.write('GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: tunmesh-stream\r\nConnection: Upgrade\r\n\r\n'),
    true,
  ),
]);
while (Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
const stillOpen = open.size;
for (const s of open) s.destroy();
console.log(JSON.stringify({ ...results, stillOpenAtEnd: stillOpen }));
