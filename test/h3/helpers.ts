// Shared helpers of the HTTP/3 and QPACK tests.
import assert from 'node:assert/strict';
import { H3Error } from '../../src/h3/errors.js';

/** 'a0 b1' / '8286 84be' -> bytes (spaces and newlines ignored). */
export function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, '');
  assert.equal(digits.length % 2, 0, 'odd hex string');
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

export function toHex(bytes: Uint8Array | null): string {
  return bytes === null ? '' : Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

/** Asserts that `fn` throws an H3Error (or QpackError) with exactly `code`. */
export function throwsCode(fn: () => unknown, code: number, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof H3Error, `expected H3Error, got ${String(error)}`);
    assert.equal(error.code, code, `expected code 0x${code.toString(16)}, got 0x${error.code.toString(16)}: ${error.message}`);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

export const latin1Bytes = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
