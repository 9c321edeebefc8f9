// Whether the netns test suite can run here, and whether the environment insists that it does.
import { spawnSync } from 'node:child_process';

/** Why the netns suite cannot run, or undefined when it can (root, and a namespace can be made). */
export function netnsUnavailableReason(env = process.env) {
  if (env.TUNMESH_NETNS_UNAVAILABLE === '1') return 'TUNMESH_NETNS_UNAVAILABLE=1 (simulated)';
  if (process.getuid?.() !== 0) return 'needs root';
  const name = `tunmesh-probe-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (add.status !== 0) return `\`ip netns add\` failed: ${(add.stderr || add.error?.message || '').trim()}`;
  spawnSync('ip', ['netns', 'del', name]);
  return undefined;
}

/** CI (any value but empty, 0 or false) or TUNMESH_REQUIRE_NETNS=1 make a netns suite that cannot run a failure. */
export function netnsRequired(env = process.env) {
  const ci = (env.CI ?? '').toLowerCase();
  return env.TUNMESH_REQUIRE_NETNS === '1' || (ci !== '' && ci !== '0' && ci !== 'false');
}
