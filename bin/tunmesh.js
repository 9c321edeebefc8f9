#!/usr/bin/env -S node --max-semi-space-size=1
// The tunmesh executable: runs the built CLI (dist/) when present, else the TypeScript source through tsx.
// --max-semi-space-size=1 (MB): the daemon allocates little per packet (the native engine none), and V8's
// default young generation (16 MB semi-spaces) is most of the gap between ~77 and ~92 MB RSS with 100
// peers (docs/BENCHMARKS.md). It applies when this file runs as the executable (`tunmesh`), not under
// `node bin/tunmesh.js` or `node dist/cli/main.js`: there, pass it to node (or NODE_OPTIONS) yourself.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
let mod;
if (existsSync(built)) {
  mod = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
process.exitCode = await mod.main(process.argv);
