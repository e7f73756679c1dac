// In-memory updates for strategy tests: safetensors bytes behind a range reader.
import type { UpdateRef } from '../../lib/federation/strategies/aggregate-updates.js';
import { floatTensor } from '../../lib/model/graph.js';
import { encodeSafetensors } from '../../lib/model/safetensors.js';
import { type RangeReader, readSafetensorsIndex } from '../../lib/model/safetensors-stream.js';

export function memoryReader(bytes: Uint8Array, counter?: { bytes: number }): RangeReader {
  return {
    size: bytes.length,
    read: async (start, end) => {
      const out = bytes.slice(start, Math.min(end, bytes.length));
      if (counter) counter.bytes += out.length;
      return out;
    },
  };
}

/** An update of named tensors (flat values; shapes are 1-D). */
export async function updateRef(siteId: string, tensors: Record<string, number[]>, sampleCount = 1): Promise<UpdateRef> {
  const map = new Map(Object.entries(tensors).map(([k, v]) => [k, floatTensor([v.length], v)]));
  const reader = memoryReader(encodeSafetensors(map));
  const index = await readSafetensorsIndex(reader, siteId);
  const norm = Math.sqrt(Object.values(tensors).flat().reduce((a, v) => a + v * v, 0));
  return { siteId, sampleCount, norm, reader, entries: new Map(index.entries.map((e) => [e.name, e])) };
}

export const sizesOf = (tensors: Record<string, number[]>) => new Map(Object.entries(tensors).map(([k, v]) => [k, v.length]));
