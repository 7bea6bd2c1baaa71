import type { Server } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

/** while draining, a keep-alive connection idle this long is closed: its client is not about to send on it */
const IDLE_GRACE_MS = 100;
const SWEEP_EVERY_MS = 25;

/**
 * Graceful shutdown for an HTTP server under keep-alive load. `drain` stops listening, says
 * `Connection: close` on every response not yet sent, closes each idle connection once it has
 * been idle IDLE_GRACE_MS, and settles when the last connection is gone, or after `drainMs` by
 * closing what remains.
 *
 * Idle connections are not closed at once (Node's `server.close` does): a client that has just
 * read an answer may be writing its next request on one, and closing it under that request resets
 * it. Busy connections close themselves after their response.
 */
export function gracefulDrain(server: Server): (drainMs: number) => Promise<void> {
  let draining = false;
  /** each open connection, and since when it has had no request (undefined while it has one) */
  const idleSince = new Map<Socket, number | undefined>();
  /** responses whose headers are not yet sent, so that draining can still ask them to close */
  const unsent = new Set<{ setHeader(name: string, value: string): unknown; headersSent: boolean }>();
  server.on('connection', (socket: Socket) => {
    idleSince.set(socket, Date.now());
    socket.once('close', () => idleSince.delete(socket));
  });
  server.prependListener('request', (req, res) => {
    idleSince.set(req.socket, undefined);
    if (draining) res.setHeader('Connection', 'close');
    else unsent.add(res);
    res.once('finish', () => {
      unsent.delete(res);
      if (idleSince.has(req.socket)) idleSince.set(req.socket, Date.now());
    });
    res.once('close', () => unsent.delete(res));
  });

  return (drainMs) =>
    new Promise<void>((resolve) => {
      draining = true;
      for (const res of unsent) if (!res.headersSent) res.setHeader('Connection', 'close');
      unsent.clear();
      const finish = () => {
        clearTimeout(deadline);
        clearInterval(sweep);
        resolve();
      };
      const deadline = setTimeout(() => {
        server.closeAllConnections();
        finish();
      }, drainMs);
      const sweep = setInterval(() => {
        const now = Date.now();
        for (const [socket, since] of idleSince) if (since !== undefined && now - since >= IDLE_GRACE_MS) socket.destroy();
      }, SWEEP_EVERY_MS);
      // net's close, not http's: http's closes the idle connections at once (the race above).
      NetServer.prototype.close.call(server, finish);
    });
}
