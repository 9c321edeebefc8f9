// `config check` warning for a DNS forwarder that listens where more than this pod can reach it: served
// only to dns.allow, but worth saying, since a forwarder beyond loopback and the overlay is how open
// resolvers (and amplifiers) happen.
import type { ConfigIssue } from './errors.js';
import { cidrsContain, isUnspecified, loopbackPrefixes, parseHostPort } from './net.js';
import type { Config } from './schema.js';

export function dnsExposureWarnings(config: Config): ConfigIssue[] {
  const d = config.dns;
  if (!d.enabled || d.upstream.length === 0) return [];
  const hp = parseHostPort(d.listen, { allowPortZero: true });
  if (!hp) return [];
  const overlay = [...config.node.addresses, config.node.ipv4Pool, config.node.ipv6Prefix].filter(
    (c): c is string => c !== undefined,
  );
  if (!isUnspecified(hp.host) && cidrsContain([...loopbackPrefixes, ...overlay], hp.host)) return [];
  return [
    {
      path: 'dns.listen',
      rule:
        `${d.listen} is reachable beyond loopback and the overlay, and names outside ${d.domain} are forwarded to ` +
        `dns.upstream; only sources in dns.allow are served (${d.allow ? d.allow.join(', ') : 'default: loopback and the mesh prefixes'}). ` +
        'Listen on 127.0.0.53:53 or an overlay address unless other hosts must use it',
    },
  ];
}
