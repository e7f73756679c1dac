// The streaming update reader on hostile input: every malformed file is refused with its reason,
// reading a bounded number of bytes whatever sizes the file claims.
import { describe, expect, it } from 'vitest';
import { floatTensor } from '../../../lib/model/graph.js';
import { encodeSafetensors } from '../../../lib/model/safetensors.js';
import { DEFAULT_INDEX_LIMITS, readFloats, readSafetensorsIndex } from '../../../lib/model/safetensors-stream.js';
import { memoryReader } from '../../support/updates.js';

function file(header: object, dataBytes: number, headerLen?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? json.length), true);
  out.set(json, 8);
  return out;
}

describe('the streaming safetensors reader', () => {
  it('indexes a valid file and reads slices by range', async () => {
    const bytes = encodeSafetensors(new Map([['a', floatTensor([2, 2], [1, 2, 3, 4])], ['b', floatTensor([3], [5, 6, 7])]]));
    const reader = memoryReader(bytes);
    const idx = await readSafetensorsIndex(reader, 'u');
    expect(idx.entries.map((e) => [e.name, e.dims])).toEqual([['a', [2, 2]], ['b', [3]]]);
    expect(Array.from(await readFloats(reader, idx.entries[1], 1, 3))).toEqual([6, 7]);
  });

  const bound = 8 + DEFAULT_INDEX_LIMITS.maxHeaderBytes;
  it.each([
    ['truncated to 5 bytes', new Uint8Array(5), /too short/],
    ['a header length of 2^40', file({}, 0, 2 ** 40), /exceeds the 1048576-byte limit/],
    ['a header length past the end', file({}, 0, 500), /runs past the end/],
    ['a header that is not JSON', (() => { const b = file({ a: 1 }, 0); b[8] = 0x5b; b[9] = 0x5b; return b; })(), /header is not valid JSON at line 1, column \d+/],
    ['a wrong dtype', file({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, 8), /dtype "F64"; updates must be "F32"/],
    ['an integer dtype', file({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, 8), /dtype "I64"/],
    ['offsets past the data', file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), /data_offsets \[0, 8\] run past the 4 data bytes/],
    ['overlapping offsets', file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /overlap/],
    ['a gap between tensors', file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /4 bytes before tensor 'a' belong to no tensor/],
    ['trailing bytes', file({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 12), /add up to 4 data bytes but the file has 12/],
    ['a shape that claims 2 GB', file({ a: { dtype: 'F32', shape: [536870912], data_offsets: [0, 4] } }, 4), /has 4 bytes but shape \[536870912\] of F32 needs 2147483648/],
    ['a negative offset', file({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, 4), /has data_offsets \[-4,0\]; they must be \[begin, end\], two non-negative integers/],
  ])('refuses %s, reading at most the header bound', async (_name, bytes, message) => {
    const counter = { bytes: 0 };
    await expect(readSafetensorsIndex(memoryReader(bytes, counter), 'u')).rejects.toThrow(message);
    expect(counter.bytes).toBeLessThanOrEqual(bound);
  });

  it('judges a 3 GB claim from its header without reading the data', async () => {
    const big = 3 * 1024 ** 3;
    const header = new TextEncoder().encode(JSON.stringify({ a: { dtype: 'F32', shape: [big / 4], data_offsets: [0, big] } }));
    const counter = { bytes: 0 };
    const head = new Uint8Array(8 + header.length);
    new DataView(head.buffer).setBigUint64(0, BigInt(header.length), true);
    head.set(header, 8);
    const reader = { size: head.length + big, read: async (s: number, e: number) => { const out = head.slice(s, Math.min(e, head.length)); counter.bytes += out.length; return out; } };
    const idx = await readSafetensorsIndex(reader, 'big');
    expect(idx.entries[0].dims).toEqual([big / 4]);
    expect(counter.bytes).toBe(head.length);
  });
});
