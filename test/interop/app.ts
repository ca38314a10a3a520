/**
 * The application every interop client talks to, with observable state for abort checks.
 */
import { FastResponse } from '../../src/server/response.js';
import type { FetchHandler } from '../../src/server/types.js';
import { patternBytes } from '../support/server.js';

export interface InteropState {
  aborted: number;
  uploadsStarted: number;
}

export function interopApp(): { fetch: FetchHandler; state: InteropState } {
  const state: InteropState = { aborted: 0, uploadsStarted: 0 };
  const chunk = patternBytes(16 * 1024, 9);
  const fetch: FetchHandler = async (request, info) => {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/':
        return new FastResponse('hello', { headers: { 'content-type': 'text/plain' } });
      case '/protocol':
        return new FastResponse(info.protocol);
      case '/echo':
        return new Response(request.body, { headers: { 'content-type': 'application/octet-stream' } });
      case '/trailers':
        return new FastResponse('trailed body', { trailers: () => ({ 'x-checksum': 'abc123' }) });
      case '/hints':
        info.sendInformational(103, { link: '</app.css>; rel=preload; as=style' });
        return new FastResponse('hinted');
      case '/stream': {
        const size = Number(url.searchParams.get('size') ?? 4 * 1024 * 1024);
        let sent = 0;
        return new Response(
          new ReadableStream({
            pull(controller) {
              if (sent >= size) return controller.close();
              const piece = chunk.subarray(0, Math.min(chunk.length, size - sent));
              sent += piece.length;
              controller.enqueue(piece);
            },
          }),
        );
      }
      case '/slow-upload': {
        state.uploadsStarted++;
        request.signal.addEventListener('abort', () => state.aborted++);
        try {
          const reader = request.body!.getReader();
          for (;;) {
            const { done } = await reader.read();
            if (done) break;
          }
          return new FastResponse('complete');
        } catch {
          return new FastResponse('aborted');
        }
      }
      default:
        return new FastResponse('not found', { status: 404 });
    }
  };
  return { fetch, state };
}
