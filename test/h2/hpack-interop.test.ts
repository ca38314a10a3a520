// HPACK interoperability with an independent implementation: Python's `hpack` (the codec under python3-h2).
// Our encoder's blocks must decode in Python, Python's blocks must decode here, across many blocks sharing one
// dynamic table, with table size changes, Huffman on and off, sensitive (never-indexed) fields and latin1 bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { HpackDecoder, HpackEncoder } from '../../src/h2/hpack/index.js';

const PYTHON = '/usr/bin/python3';

const PEER_SCRIPT = String.raw`
import json, sys
from hpack import Decoder, Encoder

def latin1(b):
    return b.decode('latin-1') if isinstance(b, (bytes, bytearray, memoryview)) else b

ops = json.load(sys.stdin)
decoder = Decoder(max_header_list_size=1 << 30)
encoder = Encoder()
out = []
for op in ops:
    if op['kind'] == 'size':
        decoder.max_allowed_table_size = op['size']
        encoder.header_table_size = op['size']
        out.append(None)
        continue
    decoded = decoder.decode(bytes.fromhex(op['ours']), raw=True)
    fields = [latin1(part) for field in decoded for part in (field[0], field[1])]
    pairs = op['headers']
    tuples = []
    for i in range(0, len(pairs), 2):
        name, value = pairs[i].encode('latin-1'), pairs[i + 1].encode('latin-1')
        tuples.append((name, value, True) if name in (b'authorization', b'x-secret') else (name, value))
    theirs = encoder.encode(tuples, huffman=op['huffman'])
    out.append({'decoded': fields, 'theirs': theirs.hex()})
json.dump(out, sys.stdout)
`;

const latin1String = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength });
const name = fc.oneof(
  fc.constantFrom(':status', ':path', 'content-type', 'date', 'server', 'cookie', 'set-cookie', 'authorization', 'x-secret', 'vary',
    'etag', 'last-modified', 'content-length'),
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz-'.split('')), minLength: 1, maxLength: 16 }),
);
const value = fc.oneof(fc.constantFrom('', '200', 'text/html', 'httpsd'), latin1String(40), latin1String(2).map((s) => s.repeat(300)));
const headers = fc.array(fc.tuple(name, value), { maxLength: 16 }).map((pairs) => pairs.flat());

type Op = { kind: 'size'; size: number } | { kind: 'block'; headers: string[]; huffman: boolean };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('block' as const), headers, huffman: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('size' as const), size: fc.constantFrom(0, 64, 200, 1024, 4096, 8192) }) },
);

test('our blocks decode in Python hpack and its blocks decode here, tables in sync over many blocks', () => {
  // Python's encoder signals every intermediate size, not just the minimum and the final one (RFC 7541 §4.2), and our
  // decoder rightly rejects an update above the limit in force; so never change the size twice between blocks.
  const ops = fc
    .sample(op, { seed: 7541, numRuns: 400 })
    .filter((o, i, all) => o.kind === 'block' || i === 0 || all[i - 1]!.kind === 'block');
  const encoder = new HpackEncoder({ maxTableSize: 65536 });
  const request = ops.map((o) =>
    o.kind === 'size'
      ? (encoder.setMaxTableSize(o.size), o)
      : { ...o, ours: Buffer.from(encoder.encode(o.headers)).toString('hex') },
  );
  const peer = spawnSync(PYTHON, ['-c', PEER_SCRIPT], { input: JSON.stringify(request), encoding: 'utf8', timeout: 30_000, maxBuffer: 1 << 28 });
  assert.equal(peer.status, 0, `python hpack peer failed: ${peer.error?.message ?? ''} ${peer.stderr}`);
  const results = JSON.parse(peer.stdout) as Array<{ decoded: string[]; theirs: string } | null>;
  assert.equal(results.length, ops.length);

  const decoder = new HpackDecoder();
  let blocks = 0;
  let sensitiveSeen = 0;
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    if (o.kind === 'size') {
      decoder.setMaxTableSize(o.size);
      continue;
    }
    const result = results[i]!;
    assert.deepEqual(result.decoded, o.headers, `Python decoded our block ${i} differently`);
    assert.deepEqual(decoder.decode(Buffer.from(result.theirs, 'hex')), o.headers, `we decoded Python's block ${i} differently`);
    for (const never of decoder.lastNeverIndexed ?? []) {
      assert.ok(never === 'authorization' || never === 'x-secret', `unexpected never-indexed ${never}`);
      sensitiveSeen++;
    }
    blocks++;
  }
  assert.ok(blocks > 300, 'enough blocks exercised');
  assert.ok(sensitiveSeen > 0, 'never-indexed fields exercised');
});
