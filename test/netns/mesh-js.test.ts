// The core mesh suite again on the TypeScript reference engine: the default (native) runs
// mesh.test.ts, and both engines must pass the same end-to-end tests. Node's test runner gives each file
// its own process, so the engine chosen here reaches only this run of the suite.
process.env.TUNMESH_TEST_ENGINE = 'js';
await import('./mesh.test.js');
