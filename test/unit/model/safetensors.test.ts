import { describe, expect, it } from 'vitest';
import { floatTensor, int64Tensor } from '../../../lib/model/graph.js';
import { decodeSafetensors, encodeSafetensors } from '../../../lib/model/safetensors.js';

function withHeader(header: object, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors', () => {
  it('round-trips float32 and int64 tensors and metadata, 8-byte aligned', () => {
    const tensors = new Map([
      ['conv.weight', floatTensor([2, 3], [1, -2, 3.5, 4, 5, 6])],
      ['steps', int64Tensor([1], [42])],
    ]);
    const bytes = encodeSafetensors(tensors, { site: 'a' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ site: 'a' });
    expect(back.tensors.get('conv.weight')).toEqual(tensors.get('conv.weight'));
    expect(back.tensors.get('steps')).toEqual(tensors.get('steps'));
  });

  it.each([
    ['too short', new Uint8Array(4), /too short/],
    ['header length past the end', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; })(), /runs past the end/],
    ['huge header length', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true); return b; })(), /exceeds/],
    ['unknown dtype', withHeader({ a: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }, 2), /dtype "F16".*allowed: F32, I64/],
    ['offsets past the data', withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), /run past/],
    ['size that does not match the shape', withHeader({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /needs 12/],
    ['overlapping tensors', withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /overlap/],
    ['header that is not JSON', (() => { const b = withHeader({}, 0); b[8] = 0x7b; b[9] = 0x7b; return b; })(), /not valid UTF-8 JSON/],
  ])('rejects %s with a message', (_name, bytes, message) => {
    expect(() => decodeSafetensors(bytes, 'update.safetensors')).toThrow(message);
  });
});
