'use strict';
// Builds the addon against the headers of the Node that runs this script, never downloading any:
// node-gyp would otherwise fetch headers from the network, which fresh machines cannot reach.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const nodedir = path.resolve(process.execPath, '..', '..');
if (process.env.TUNMESH_SKIP_NATIVE) process.exit(0);
if (!fs.existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
  console.warn(`[tunmesh/native] no Node headers under ${nodedir}/include/node; addon not built`);
  process.exit(0);
}
const gyp =
  process.env.npm_config_node_gyp ||
  path.join(nodedir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const args = ['rebuild', `--nodedir=${nodedir}`, '--jobs=2'];
const [cmd, argv] = gyp.endsWith('.js') ? [process.execPath, [gyp, ...args]] : [gyp, args];
const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: path.join(__dirname, '..') });
if (r.status !== 0) {
  console.error('[tunmesh/native] build failed');
  process.exit(1);
}
