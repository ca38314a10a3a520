/**
 * The HTTP/2 driver's per-turn input budgets over a real TLS socket: an upload moves DATA for its open stream in
 * large steps (DATA_BYTES_PER_TURN), while every turn's other input stays within INPUT_BYTES_PER_TURN.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { DATA_BYTES_PER_TURN, INPUT_BYTES_PER_TURN, type InputTurnMessage } from '../../src/server/transports/h2.js';
import { connectH2, h2Request, startServer } from '../support/server.js';

test('an upload is not cut into one TLS record per turn, and other input keeps its bound', async () => {
  const server = await startServer(async (request) => {
    let size = 0;
    const reader = request.body!.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) size += read.value.byteLength;
    return new Response(String(size));
  });
  let maxBytes = 0;
  let maxDataBytes = 0;
  const onTurn = (message: unknown) => {
    const turn = message as InputTurnMessage;
    maxBytes = Math.max(maxBytes, turn.bytes);
    maxDataBytes = Math.max(maxDataBytes, turn.dataBytes);
  };
  subscribe('httpsd:h2:input-turn', onTurn);
  const session = connectH2(server.origin);
  try {
    const body = new Uint8Array(8 * 1024 * 1024).fill(0x61);
    const result = await h2Request(session, { ':method': 'POST', ':path': '/upload' }, body);
    assert.equal(result.body.toString(), String(body.byteLength));
  } finally {
    unsubscribe('httpsd:h2:input-turn', onTurn);
    session.close();
    await server.close();
  }
  assert.ok(maxBytes <= INPUT_BYTES_PER_TURN, `other input ${maxBytes} B in one turn`);
  // Loopback reads deliver several 16 KiB TLS records at once over an 8 MiB upload: more than one moves per turn.
  assert.ok(maxDataBytes > INPUT_BYTES_PER_TURN, `DATA per turn peaked at ${maxDataBytes} B`);
  assert.ok(maxDataBytes <= DATA_BYTES_PER_TURN + INPUT_BYTES_PER_TURN, `DATA per turn peaked at ${maxDataBytes} B`);
});
