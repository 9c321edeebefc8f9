// Stopping a listener: close it and end its kept-alive connections, so a stop never waits on an idle
// client (the API server and the separate /metrics listener stop the same way).
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

export function closeServer(s: HttpServer | HttpsServer): Promise<void> {
  return new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });
}
