// Device configuration through iproute2 (`ip`), run with execFile: arguments are never joined into a
// shell string, so a device name or CIDR can never become a command.
import { execFile } from 'node:child_process';
import { TunmeshError } from '../../base/errors.js';
import type { NetConfig } from '../ports.js';

export interface IpNetConfigOptions {
  /** Path of the ip binary (default: `ip` from PATH). */
  ipPath?: string;
  timeoutMs?: number;
}

export class IpNetConfig implements NetConfig {
  private readonly ipPath: string;
  private readonly timeoutMs: number;

  constructor(opts: IpNetConfigOptions = {}) {
    this.ipPath = opts.ipPath ?? 'ip';
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async setMtu(device: string, mtu: number): Promise<void> {
    await this.ip(['link', 'set', 'dev', device, 'mtu', String(mtu)]);
  }

  async setUp(device: string): Promise<void> {
    await this.ip(['link', 'set', 'dev', device, 'up']);
  }

  /** Idempotent (`ip addr replace`): re-adding an address the device already has succeeds. */
  async addAddress(device: string, cidr: string): Promise<void> {
    await this.ip([...family(cidr), 'addr', 'replace', cidr, 'dev', device]);
  }

  /** Idempotent (`ip route replace`). */
  async addRoute(device: string, cidr: string): Promise<void> {
    await this.ip([...family(cidr), 'route', 'replace', cidr, 'dev', device]);
  }

  /** Deleting a route that is not there succeeds: the wanted state is reached either way. */
  async delRoute(device: string, cidr: string): Promise<void> {
    try {
      await this.ip([...family(cidr), 'route', 'del', cidr, 'dev', device]);
    } catch (err) {
      if (err instanceof TunmeshError && /No such process|Cannot find device/.test(err.message)) return;
      throw err;
    }
  }

  private ip(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(this.ipPath, args, { timeout: this.timeoutMs }, (err, _stdout, stderr) => {
        if (!err) return resolve();
        const detail = String(stderr).trim() || err.message;
        reject(
          new TunmeshError('TUN_SETUP_FAILED', `${this.ipPath} ${args.join(' ')} failed: ${detail}`, {
            hint: 'needs CAP_NET_ADMIN in the network namespace of the daemon',
            cause: err,
          }),
        );
      });
    });
  }
}

function family(cidr: string): string[] {
  return cidr.includes(':') ? ['-6'] : ['-4'];
}
