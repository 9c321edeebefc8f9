'use strict';
// Loads the compiled addon; throws with a clear message when `npm install` could not build it.
const path = require('node:path');
module.exports = require(path.join(__dirname, 'build', 'Release', 'tunmesh_native.node'));
