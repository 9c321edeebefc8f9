// The image's build inputs for closed networks: a registry mirror for the base images, an npm registry, and
// an extra CA that reaches `npm ci` as a BuildKit secret and never a layer. The Dockerfile's shape is read
// from the file; deploy/build.sh's handling is run for real with `npm` replaced by a stub that records what
// it was given (the real `npm ci` runs in test/netns/packaging-image.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
const dockerfile = readFileSync(join(repo, 'deploy/Dockerfile'), 'utf8');
/** Instructions, continuation lines joined, comments dropped. */
const lines = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = (() => {
  const out: { from: string; name: string; lines: string[] }[] = [];
  for (const l of lines) {
    const m = /^FROM\s+(\S+)\s+AS\s+(\S+)$/i.exec(l);
    if (m) out.push({ from: m[1]!, name: m[2]!, lines: [] });
    else out.at(-1)?.lines.push(l);
  }
  return out;
})();

test('both base images come from the REGISTRY build argument (a mirror in place of Docker Hub)', () => {
  const globalArgs = lines.slice(
    0,
    lines.findIndex((l) => /^FROM\s/i.test(l)),
  );
  assert.ok(globalArgs.includes('ARG REGISTRY=docker.io/library'), 'declared before the first FROM, with a default');
  assert.deepEqual(
    stages.map((s) => [s.name, s.from]),
    [
      ['build', '${REGISTRY}/node:20-bookworm-slim'],
      ['runtime', '${REGISTRY}/debian:bookworm-slim'],
    ],
  );
});

test('the runtime stage is Debian slim with node and iproute2: no npm, corepack or headers', () => {
  const runtime = stages.find((s) => s.name === 'runtime')!;
  const copies = runtime.lines.filter((l) => /^COPY\s/i.test(l));
  assert.deepEqual(copies, [
    'COPY --from=build /usr/local/bin/node /usr/local/bin/node',
    'COPY --from=build /src/image-root/ /app/',
  ]);
  const installs = runtime.lines.filter((l) => /apt-get install/.test(l)).join(' ');
  assert.match(installs, /--no-install-recommends iproute2 /);
  assert.doesNotMatch(runtime.lines.join('\n'), /npm|corepack|yarn/);
});

test('NPM_REGISTRY and the extra_ca secret reach only the step that downloads; the CA is never copied', () => {
  const build = stages.find((s) => s.name === 'build')!;
  const deps = build.lines.findIndex((l) => l.endsWith('deploy/build.sh deps'));
  assert.ok(deps > 0);
  assert.equal(build.lines[deps], 'RUN --mount=type=secret,id=extra_ca,required=false deploy/build.sh deps');
  assert.ok(build.lines.slice(0, deps).includes('ARG NPM_REGISTRY='), 'ARG before the RUN that uses it');
  // Not a build argument (docker history shows those), not ENV, not COPY/ADD: only the secret mount.
  const mentions = lines.filter((l) => /extra_ca|EXTRA_CA|NODE_EXTRA_CA_CERTS/.test(l));
  assert.deepEqual(mentions, [build.lines[deps]]);
});

interface Run {
  readonly code: number;
  readonly stderr: string;
  readonly seen: Record<string, string>;
}

/** Runs `deploy/build.sh deps` with a stub npm that writes the variables it saw. */
async function deps(env: Record<string, string>): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'tp14-image-args-'));
  try {
    const out = join(dir, 'seen.json');
    await writeFile(
      join(dir, 'npm'),
      `#!/bin/sh\nnode -e 'require("fs").writeFileSync(process.argv[1], JSON.stringify({args: process.argv.slice(2).join(" "), registry: process.env.npm_config_registry ?? "", ca: process.env.NODE_EXTRA_CA_CERTS ?? ""}))' ${out} "$@"\n`,
    );
    await chmod(join(dir, 'npm'), 0o755);
    const r = await new Promise<{ code: number; stderr: string }>((done) =>
      execFile(
        'sh',
        [join(repo, 'deploy/build.sh'), 'deps'],
        { cwd: dir, env: { PATH: `${dir}:${process.env.PATH ?? ''}`, ...env } },
        (err, _stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, stderr }),
      ),
    );
    const seen = r.code === 0 ? (JSON.parse(await readFile(out, 'utf8')) as Record<string, string>) : {};
    return { ...r, seen };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('build.sh deps: no inputs = npm defaults', async () => {
  const r = await deps({ EXTRA_CA_FILE: '' });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.seen, { args: 'ci --no-audit --no-fund --prefer-offline', registry: '', ca: '' });
});

test('build.sh deps: NPM_REGISTRY and EXTRA_CA_FILE reach npm; a named CA that is missing fails', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tp14-ca-'));
  try {
    const ca = join(dir, 'corp.pem');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const r = await deps({ NPM_REGISTRY: 'https://npm.example/', EXTRA_CA_FILE: ca });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.seen.registry, 'https://npm.example/');
    assert.equal(r.seen.ca, ca, 'added to the bundled roots by path (NODE_EXTRA_CA_CERTS), not copied');
    const missing = await deps({ EXTRA_CA_FILE: join(dir, 'nope.pem') });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /EXTRA_CA_FILE=.*nope\.pem is missing/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
