// Production wiring of the platform ports.
import type { Logger } from '../base/log.js';
import { SystemClock } from '../platform/linux/clock.js';
import { IpNetConfig } from '../platform/linux/netconfig.js';
import { CryptoRandom } from '../platform/linux/random.js';
import { LinuxTunFactory } from '../platform/linux/tun.js';
import { NodeUdpFactory } from '../platform/linux/udp.js';
import { LinuxRouteMtuSource } from '../platform/linux/route-mtu.js';
import { readLinkState } from '../platform/linux/link-state.js';
import type { Platform } from './daemon.js';

export function linuxPlatform(log: Logger): Platform {
  return {
    tun: new LinuxTunFactory({ log }),
    net: new IpNetConfig(),
    udp: new NodeUdpFactory({ log }),
    clock: new SystemClock(),
    random: new CryptoRandom(),
    routeMtu: new LinuxRouteMtuSource({ log }),
    linkState: (device) => readLinkState(device),
  };
}
