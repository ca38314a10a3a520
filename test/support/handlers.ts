import { patternBytes } from './server.js';

/**
 * A response body of `totalBytes` pattern bytes in `chunkBytes` chunks, produced only as fast as the consumer reads
 * (pull-based), so a test can see the server's backpressure instead of a body buffered up front.
 */
export function pulledPatternStream(totalBytes: number, chunkBytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  const chunk = patternBytes(chunkBytes);
  return new ReadableStream({
    pull(controller) {
      if (sent >= totalBytes) return controller.close();
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

/**
 * A handler whose responses (`body`) wait until release() is called, to hold requests in flight (e.g. across a
 * graceful close).
 */
export function gatedHandler(body: string): { fetch: () => Promise<Response>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    fetch: async () => {
      await gate;
      return new Response(body);
    },
    release: () => release(),
  };
}
