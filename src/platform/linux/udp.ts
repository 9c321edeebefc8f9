// UDP sockets on node:dgram. One socket per bind; "::" is dual-stack, and IPv4 peers seen through it
// are reported as plain IPv4 endpoints so the rest of tunmesh never meets ::ffff:a.b.c.d.
import dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';
import { TunmeshError } from '../../base/errors.js';
import type { Logger } from '../../base/log.js';
import { mapIPv4, unmapIPv4 } from '../ip.js';
import type { Datagram, DatagramSocket, DatagramSocketFactory, Endpoint } from '../ports.js';

export interface NodeUdpOptions {
  log?: Logger;
  /** Requested SO_RCVBUF/SO_SNDBUF; the kernel caps them at net.core.[rw]mem_max. */
  bufferBytes?: number;
}

const defaultBufferBytes = 4 << 20;

export class NodeUdpFactory implements DatagramSocketFactory {
  constructor(private readonly opts: NodeUdpOptions = {}) {}

  bind(host: string, port: number): Promise<NodeUdpSocket> {
    const kind = isIPv4(host) ? 'v4' : host === '::' ? 'dual' : isIPv6(host) ? 'v6' : undefined;
    if (!kind) {
      return Promise.reject(new TunmeshError('SOCKET_BIND_FAILED', `cannot bind UDP to "${host}": not an IP literal`));
    }
    const socket = dgram.createSocket({ type: kind === 'v4' ? 'udp4' : 'udp6', ipv6Only: kind === 'v6' });
    return new Promise((resolve, reject) => {
      const onBindError = (err: Error): void => {
        socket.close();
        reject(
          new TunmeshError('SOCKET_BIND_FAILED', `cannot bind UDP to ${host} port ${port}: ${err.message}`, {
            cause: err,
          }),
        );
      };
      socket.once('error', onBindError);
      socket.bind({ address: host, port }, () => {
        socket.off('error', onBindError);
        resolve(new NodeUdpSocket(socket, kind, this.opts));
      });
    });
  }
}

export class NodeUdpSocket implements DatagramSocket {
  private readonly log: Logger | undefined;
  private readonly port: number;
  private handler: ((d: Datagram) => void) | undefined;
  private closed = false;
  private sendFailures = 0;
  private socketErrors = 0;

  constructor(
    private readonly socket: dgram.Socket,
    private readonly kind: 'v4' | 'v6' | 'dual',
    opts: NodeUdpOptions,
  ) {
    this.log = opts.log;
    this.port = socket.address().port;
    const size = opts.bufferBytes ?? defaultBufferBytes;
    try {
      socket.setRecvBufferSize(size);
      socket.setSendBufferSize(size);
    } catch {
      // Capped or refused by the kernel: the defaults still work, only bursts drop earlier.
    }
    // ICMP errors (ECONNREFUSED, EHOSTUNREACH) arrive as 'error' events; unhandled they kill the process.
    socket.on('error', (err) => {
      if (this.socketErrors++ === 0) this.log?.debug({ err }, 'udp socket error');
    });
    socket.on('message', (msg, rinfo) => {
      if (!this.handler) return;
      this.handler({ data: msg, from: { host: unmapIPv4(rinfo.address), port: rinfo.port } });
    });
  }

  onMessage(handler: (d: Datagram) => void): void {
    this.handler = handler;
  }

  /** The buffer goes to the kernel as is: do not change it until the next event-loop turn. */
  send(data: Uint8Array, to: Endpoint): void {
    if (this.closed) return;
    const host = this.destination(to.host);
    if (host === undefined) {
      this.sendFailures++;
      return;
    }
    try {
      this.socket.send(data, to.port, host, (err) => {
        if (err && this.sendFailures++ === 0) this.log?.debug({ err }, 'udp send failed');
      });
    } catch (err) {
      if (this.sendFailures++ === 0) this.log?.debug({ err }, 'udp send failed');
    }
  }

  /** The bound port; still answers after close(). */
  localPort(): number {
    return this.port;
  }

  stats(): { sendFailures: number; socketErrors: number } {
    return { sendFailures: this.sendFailures, socketErrors: this.socketErrors };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.handler = undefined;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  /** The address to hand to dgram for this socket's family, or undefined when it cannot reach `host`. */
  private destination(host: string): string | undefined {
    const plain = unmapIPv4(host);
    const v4 = isIPv4(plain);
    switch (this.kind) {
      case 'v4':
        return v4 ? plain : undefined;
      case 'dual':
        return v4 ? mapIPv4(plain) : host;
      case 'v6':
        return v4 ? undefined : host;
    }
  }
}
