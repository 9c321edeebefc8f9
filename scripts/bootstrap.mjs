// node scripts/bootstrap.mjs demo|test — what `npm run demo` and `npm test` run first (npm's predemo and
// pretest hooks), so that both work on a fresh clone with only Node and root. It does, saying so on one line
// per action, only what is missing:
//   1. Debian packages the command uses (apt-get update once, then one apt-get install), when running as
//      root with apt-get; otherwise it names what is missing and how to install it;
//   2. `npm ci` when node_modules does not match package-lock.json (a stamp records the lock's hash and the
//      Node ABI the native addon was built for), then checks that the native addon exists;
//   3. a rebuild of the native addon when native/src is newer than it;
//   4. for the demo, `npm run build` when dist/ is missing or older than src/ (`npm test` builds by itself).
// Node built-ins only: it must run before node_modules exists. TUNMESH_NO_APT=1 reports instead of installing.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, utimesSync } from 'node:fs';
import { delimiter, join, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2];
if (mode !== 'demo' && mode !== 'test') {
  console.error('usage: node scripts/bootstrap.mjs demo|test');
  process.exit(2);
}
const say = (msg) => console.log(`bootstrap: ${msg}`);
const fail = (msg) => {
  console.error(`bootstrap: ${msg}`);
  process.exit(1);
};

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) fail(`Node ${process.versions.node} is too old: tunmesh needs Node >= 20`);
if (process.platform !== 'linux') fail(`tunmesh runs on Linux (this is ${process.platform})`);

const lockFile = join(root, 'package-lock.json');
const stampFile = join(root, 'node_modules', '.tunmesh-lock');
const addonFile = join(root, 'native', 'build', 'Release', 'tunmesh_native.node');
const skipNative = Boolean(process.env.TUNMESH_SKIP_NATIVE);
// The addon is built for one Node ABI: a different Node needs a reinstall as much as a changed lock does.
const wantStamp = `${createHash('sha256').update(readFileSync(lockFile)).digest('hex')} node-abi-${process.versions.modules} ${process.platform}-${process.arch}\n`;
let haveStamp = existsSync(stampFile) ? readFileSync(stampFile, 'utf8') : '';
// An install made by hand (`npm ci`) is adopted when npm's own record of it is newer than the lock file
// (npm trusts its hidden lockfile by the same rule), so that it is not redone once for the stamp.
const hiddenLock = join(root, 'node_modules', '.package-lock.json');
if (
  haveStamp === '' &&
  existsSync(hiddenLock) &&
  statSync(hiddenLock).mtimeMs >= statSync(lockFile).mtimeMs &&
  (skipNative || existsSync(addonFile))
) {
  writeFileSync(stampFile, wantStamp);
  haveStamp = wantStamp;
}
const depsReason = !existsSync(join(root, 'node_modules'))
  ? 'node_modules is missing'
  : haveStamp === ''
    ? 'node_modules does not match package-lock.json'
    : haveStamp !== wantStamp
      ? 'package-lock.json or the Node version changed'
      : !skipNative && !existsSync(addonFile)
        ? 'the native addon is not built'
        : undefined;

// Debian package -> the commands of it that tunmesh uses (a package counts as present when they are on PATH).
const commandsOf = {
  'build-essential': ['g++', 'make'],
  python3: ['python3'],
  iproute2: ['ip'],
  iperf3: ['iperf3'],
  'wireguard-go': ['wireguard-go'],
  'wireguard-tools': ['wg'],
  nftables: ['nft'],
  'iputils-ping': ['ping'],
  dnsutils: ['dig'],
  tcpdump: ['tcpdump'],
  procps: ['ps', 'sysctl'],
  jq: ['jq'],
  'dnsmasq-base': ['dnsmasq'],
  fastd: ['fastd'],
  chromium: ['chromium'],
  systemd: ['systemd-analyze'],
};
/** What each command needs beyond Node; the native addon's toolchain only when npm ci will build it. */
const wanted = [
  ...(depsReason && !skipNative ? ['build-essential', 'python3'] : []),
  ...(mode === 'demo'
    ? ['iproute2']
    : [
        'iproute2',
        'iperf3',
        'wireguard-go',
        'wireguard-tools',
        'nftables',
        'iputils-ping',
        'dnsutils',
        'tcpdump',
        'procps',
        'jq',
        'dnsmasq-base',
        'fastd',
        'chromium',
        'systemd',
      ]),
];
const searchPath = (process.env.PATH ?? '').split(delimiter);
const onPath = (cmd) => searchPath.some((d) => d && existsSync(join(d, cmd)));
const missing = wanted.filter((p) => !commandsOf[p].every(onPath));

if (missing.length) {
  const isRoot = process.getuid?.() === 0;
  const hasApt = onPath('apt-get');
  if (isRoot && hasApt && !process.env.TUNMESH_NO_APT) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    say(`apt-get update (to install ${missing.join(' ')})`);
    const up = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (up.status !== 0) fail('apt-get update failed (see above)');
    say(`apt-get install ${missing.join(' ')}`);
    const inst = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env,
    });
    if (inst.status !== 0) fail(`apt-get install ${missing.join(' ')} failed (see above)`);
    const still = missing.filter((p) => !commandsOf[p].every(onPath));
    if (still.length) fail(`installed, but still not on PATH: ${still.flatMap((p) => commandsOf[p]).join(' ')}`);
  } else {
    const how = hasApt
      ? `apt-get install ${missing.join(' ')} (as root)`
      : `your distribution's packages for: ${missing.flatMap((p) => commandsOf[p]).join(' ')}`;
    const why = !isRoot ? 'not root' : !hasApt ? 'no apt-get' : 'TUNMESH_NO_APT is set';
    const toolchainMissing = missing.some((p) => p === 'build-essential' || p === 'python3');
    if (toolchainMissing) fail(`the native addon needs g++, make and python3; missing (${why}); install: ${how}`);
    if (mode === 'demo' && isRoot) fail(`the demo needs iproute2 (the ip command); missing (${why}); install: ${how}`);
    // Not root: the demo stops at its own root check, and npm test skips the netns suite that uses these.
    const use =
      mode === 'demo'
        ? 'the demo needs them (as root)'
        : 'netns tests and the systemd unit checks use them (they skip or fail without)';
    say(`missing ${missing.join(' ')} (${why}): ${use}; install: ${how}`);
  }
}

if (depsReason) {
  say(`npm ci (${depsReason})`);
  // Under npm, npm_execpath is the npm that runs us: use the same one.
  const npm = process.env.npm_execpath;
  const [cmd, args] = npm?.endsWith('.js') ? [process.execPath, [npm]] : ['npm', []];
  const r = spawnSync(cmd, [...args, 'ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail('npm ci failed (see above)');
  if (!skipNative && !existsSync(addonFile))
    fail('npm ci ran but the native addon was not built: it needs g++, make, python3 and the Node headers');
  writeFileSync(stampFile, wantStamp);
}

/** Modification time of `p`, or of the newest file under it. */
function newest(p) {
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(p).map((e) => newest(join(p, e))));
}

// The addon ships with the code (src/dataplane/native-addon.ts has no optional members): sources changed
// since it was built (a pull, a merge) mean a rebuild, or tests would load an addon that lacks what they use.
if (!skipNative && existsSync(addonFile)) {
  const nativeSources = ['native/src', 'native/binding.gyp'].map((p) => join(root, p)).filter(existsSync);
  if (statSync(addonFile).mtimeMs < Math.max(...nativeSources.map(newest))) {
    say('node native/scripts/build.cjs (native/src changed since the addon was built)');
    const r = spawnSync(process.execPath, [join(root, 'native', 'scripts', 'build.cjs')], {
      cwd: root,
      stdio: 'inherit',
    });
    if (r.status !== 0) fail('building the native addon failed (see above)');
  }
}

if (mode === 'demo') {
  const buildStamp = join(root, 'dist', '.tunmesh-build');
  const sources = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((p) => join(root, p));
  const built = existsSync(buildStamp) ? statSync(buildStamp).mtimeMs : 0;
  const buildReason = !existsSync(join(root, 'dist', 'cli', 'main.js'))
    ? 'dist/ is missing'
    : built < Math.max(...sources.map(newest))
      ? 'src/ changed since the last build'
      : undefined;
  if (buildReason) {
    say(`npm run build (${buildReason})`);
    const started = new Date();
    const npm = process.env.npm_execpath;
    const [cmd, args] = npm?.endsWith('.js') ? [process.execPath, [npm]] : ['npm', []];
    const r = spawnSync(cmd, [...args, 'run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) fail('npm run build failed (see above)');
    // Stamped with the start time: a source edited during the build makes the next run build again.
    writeFileSync(buildStamp, '');
    utimesSync(buildStamp, started, started);
  }
}

if (!missing.length && !depsReason) say('system packages and node_modules are up to date');
