// The demo's throughput figure without iperf3: one TCP stream through the mesh, Node built-ins only.
//   node scripts/demo-throughput.mjs serve HOST PORT       — accepts one stream, counts its bytes, answers the count
//   node scripts/demo-throughput.mjs send HOST PORT SECONDS — sends for SECONDS, prints the rate the server received
// Both ends exit on their own within 30 s, whatever happens.
import { createServer, connect } from 'node:net';
import { performance } from 'node:perf_hooks';

const [role, host, portArg, secondsArg] = process.argv.slice(2);
const port = Number(portArg);
const hardStop = setTimeout(() => {
  console.error(`demo-throughput ${role}: gave up after 30 s`);
  process.exit(1);
}, 30_000);

if (role === 'serve') {
  const server = createServer((sock) => {
    server.close();
    let bytes = 0;
    sock.on('data', (d) => (bytes += d.length));
    sock.on('end', () => sock.end(`${bytes}\n`));
    sock.on('close', () => clearTimeout(hardStop));
    sock.on('error', () => process.exit(1));
  });
  server.listen(port, host);
} else if (role === 'send') {
  const seconds = Number(secondsArg);
  const chunk = Buffer.alloc(128 * 1024, 0x5a);
  const attempt = (triesLeft) => {
    const sock = connect(port, host);
    let started = 0;
    let answer = '';
    sock.on('connect', () => {
      started = performance.now();
      const pump = () => {
        while (performance.now() - started < seconds * 1000) if (!sock.write(chunk)) return;
        sock.end();
      };
      sock.on('drain', pump);
      pump();
    });
    sock.on('data', (d) => (answer += d));
    sock.on('end', () => {
      const elapsed = (performance.now() - started) / 1000;
      const bytes = Number(answer.trim());
      if (!(bytes > 0)) {
        console.error('demo-throughput: the server received nothing');
        process.exit(1);
      }
      console.log(
        `${(bytes / 1e6).toFixed(0)} MB in ${elapsed.toFixed(1)} s = ${((bytes * 8) / elapsed / 1e6).toFixed(0)} Mbit/s (TCP, one stream, received)`,
      );
      clearTimeout(hardStop);
    });
    sock.on('error', (e) => {
      // The server in the other namespace may not listen yet.
      if (started === 0 && triesLeft > 0) setTimeout(() => attempt(triesLeft - 1), 200);
      else {
        console.error(`demo-throughput: ${e.message}`);
        process.exit(1);
      }
    });
  };
  attempt(25);
} else {
  console.error('usage: demo-throughput.mjs serve HOST PORT | send HOST PORT SECONDS');
  process.exit(2);
}
