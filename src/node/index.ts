/**
 * httpsd/node: run Node `(req, res)` applications (Express, Connect, Koa's `app.callback()`, plain node:http
 * listeners) as an httpsd fetch handler, over every protocol the server speaks.
 *
 *   import express from 'express';
 *   import { serve } from 'httpsd';
 *   import { fromNodeHandler } from 'httpsd/node';
 *   const app = express();
 *   app.get('/', (req, res) => res.send('hello'));
 *   serve({ fetch: fromNodeHandler(app), tls: { cert: 'cert.pem', key: 'key.pem' } });
 *
 * Each request gets a real http.IncomingMessage and http.ServerResponse (see incoming.ts, outgoing.ts) bound to a
 * stand-in socket (socket.ts); the Response is returned as soon as the application's head is known and its body
 * streams as the application writes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FastResponse, isNullBodyStatus } from '../server/response.js';
import type { FetchHandler, ServeInfo } from '../server/types.js';
import { createIncomingMessage } from './incoming.js';
import { createServerResponse } from './outgoing.js';
import { BridgeSocket } from './socket.js';

export { BridgeSocket, RESPONSE_QUEUE_BYTES } from './socket.js';

/** A Node request listener. Express and Connect apps, and Koa's `app.callback()`, are ones. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

/** Node's error for a peer that went away mid-request (what node:http gives an IncomingMessage on abort). */
function connectionResetError(): Error {
  return Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
}

/**
 * A fetch handler that runs `handler` with a Node request and response for each request.
 *
 * - The Response resolves when the application's head is set (writeHead, or the first write/end); its body streams.
 * - A handler that throws (or whose returned promise rejects) before sending a head gives the server's 500, logged
 *   through the server's `onError` with the error's stack, never sent. After the head: the response is aborted
 *   (HTTP/2 RST_STREAM, HTTP/1.1 connection close) and the error logged; after `res.end()`: only logged.
 * - A handler that never responds leaves the request pending until the client goes away: `request.signal` then
 *   destroys the request and response (their 'close' events fire) and the request ends.
 */
export function fromNodeHandler(handler: NodeHandler): FetchHandler {
  return (request: Request, info: ServeInfo) =>
    new Promise<Response>((resolve, reject) => {
      const socket = new BridgeSocket(info);
      let settled = false;
      const settleWithError = (error: unknown): void => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      const req = createIncomingMessage(request, info, socket, settleWithError);
      const res = createServerResponse(req, socket, info, (head) => {
        if (settled) return;
        settled = true;
        const hasBody = head.hasBody && !isNullBodyStatus(head.status);
        if (!hasBody) {
          // A bodiless response (HEAD, 204, 304) is complete once its head is out. An application still writing
          // to it (an event stream answering a HEAD) gets 'close', as if the client had gone, instead of running on.
          setImmediate(() => {
            if (!res.writableEnded) socket.destroy();
          });
        }
        try {
          resolve(new FastResponse(hasBody ? socket.body : null, { status: head.status, statusText: head.statusText, headers: head.headers }));
        } catch (error) {
          // A status the fetch API cannot carry (below 200 or above 599).
          reject(error);
        }
      });

      // As node:http's server does on finish: drain a request body nobody read (so the connection stays usable),
      // then end the socket; its _final closes the Response body after every buffered write.
      res.once('finish', () => {
        if (!req._consuming && !req.readableEnded) req._dump();
        socket.end();
      });

      const signal = request.signal;
      const onAbort = (): void => {
        const reason: unknown = signal.reason;
        settleWithError(reason);
        if (socket.destroyed) return;
        socket.destroy(reason instanceof Error ? reason : undefined);
        if (!req.destroyed) req.destroy(connectionResetError());
      };
      socket.once('close', () => {
        signal.removeEventListener('abort', onAbort);
        settleWithError(new Error('the application closed the response without sending a head'));
      });
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });

      const fail = (error: unknown): void => {
        if (!settled) {
          settleWithError(error);
          socket.destroy();
        } else if (!res.writableEnded) {
          // The head is out: fail the body so the server aborts the response and logs the error.
          socket.destroy(error instanceof Error ? error : new Error(String(error)));
        } else {
          // The response is complete; the error still belongs in the server's log.
          info.waitUntil(Promise.reject(error));
        }
      };
      try {
        const result = handler(req, res);
        if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
          (result as PromiseLike<unknown>).then(undefined, fail);
        }
      } catch (error) {
        fail(error);
      }
    });
}
