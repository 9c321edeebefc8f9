'use strict';
// Loads the compiled addon (throws when `npm install` could not build it) and gives it a small JS face.
const path = require('node:path');
const addon = require(path.join(__dirname, 'build', 'Release', 'tunmesh_native.node'));

/**
 * Starts a reader thread on a nonblocking TUN fd. `onBatch(packets)` gets up to 64 packets per call as
 * Buffers that share one allocation per batch; `onError(message)` is called once if reading fails for
 * good (the thread has then stopped). Returns { stop(), stats() }; stop() joins the thread.
 */
function startTunReader(fd, onBatch, onError) {
  return new addon.TunReader(fd, (data, lengths, error) => {
    if (data === null) {
      if (onError) onError(error);
      return;
    }
    const packets = new Array(lengths.length);
    let off = 0;
    for (let i = 0; i < lengths.length; i++) {
      packets[i] = data.subarray(off, off + lengths[i]);
      off += lengths[i];
    }
    onBatch(packets);
  });
}

module.exports = {
  openTun: addon.openTun,
  writeTun: addon.writeTun,
  startTunReader,
  // The data-plane fast path (native/src/fastpath*.cc).
  FastPath: addon.FastPath,
  fastPathSeal: addon.fastPathSeal,
  fastPathSplit: addon.fastPathSplit,
  fastPathCoalesce: addon.fastPathCoalesce,
  fastPathActivityColumns: addon.fastPathActivityColumns,
  // The rx thread's handshake gate, replay window and prefix table on their own (differential tests).
  HandshakeGate: addon.HandshakeGate,
  ReplayWindow: addon.ReplayWindow,
  PrefixTable: addon.PrefixTable,
  // no_new_privs and an empty bounding set in every thread, for the privilege drop (src/harden.cc).
  hardenThreads: addon.hardenThreads,
};
