// A safetensors reader for hostile input that never loads the file: the header is read with a
// bounded length and checked (dtype whitelist, shapes, offsets in range, no overlap, sizes that add
// up to the file), then tensors are read by ranges. A 2 GB file is judged from its first bytes.
import { ModelFormatError } from '../errors.js';
import { numel } from './graph.js';

export interface RangeReader {
  /** total size in bytes */
  size: number;
  read(start: number, end: number): Promise<Uint8Array>;
  /** optional: reads from `start` into `target`, returning the bytes read (no allocation) */
  readInto?(start: number, target: Uint8Array): Promise<number>;
}

export interface TensorEntry {
  name: string;
  dtype: 'float32';
  dims: number[];
  /** absolute byte offsets in the file */
  begin: number;
  end: number;
}

export interface SafetensorsIndex {
  headerBytes: Uint8Array; // the 8-byte length and the JSON header, as read
  entries: TensorEntry[]; // sorted by offset
  metadata: Record<string, string>;
}

export interface IndexLimits {
  /** largest JSON header accepted */
  maxHeaderBytes: number;
  /** most tensors accepted */
  maxTensors: number;
}

export const DEFAULT_INDEX_LIMITS: IndexLimits = { maxHeaderBytes: 1024 * 1024, maxTensors: 10_000 };

export async function readSafetensorsIndex(reader: RangeReader, source: string, limits: IndexLimits = DEFAULT_INDEX_LIMITS): Promise<SafetensorsIndex> {
  const fail = (why: string): never => {
    throw new ModelFormatError(`${source}: ${why}`, { source });
  };
  if (reader.size < 8) fail(`${reader.size} bytes is too short for a safetensors file (8-byte header length first)`);
  const lenBytes = await reader.read(0, 8);
  const headerLen = Number(new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > limits.maxHeaderBytes) fail(`header length ${headerLen} exceeds the ${limits.maxHeaderBytes}-byte limit`);
  if (8 + headerLen > reader.size) fail(`header length ${headerLen} runs past the end of the ${reader.size}-byte file`);
  const headerRaw = await reader.read(8, 8 + headerLen);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerRaw));
  } catch (cause) {
    return fail(`header is not valid UTF-8 JSON (${(cause as Error).message.slice(0, 200)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  if (names.length > limits.maxTensors) fail(`${names.length} tensors exceed the limit of ${limits.maxTensors}`);
  const dataStart = 8 + headerLen;
  const dataLen = reader.size - dataStart;
  const entries: TensorEntry[] = [];
  for (const name of names) {
    const e = header[name] as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`tensor '${name}' has no description`);
    if (e.dtype !== 'F32') fail(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; updates must be F32`);
    if (!Array.isArray(e.shape) || e.shape.length > 8 || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(e.shape).slice(0, 100)}`);
    const offs = e.data_offsets as unknown[];
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(e.data_offsets).slice(0, 100)}`);
    const [begin, end] = offs as number[];
    if (begin > end || end > dataLen) fail(`tensor '${name}' data_offsets [${begin}, ${end}] are out of the ${dataLen} data bytes`);
    const dims = e.shape as number[];
    if (end - begin !== numel(dims) * 4) fail(`tensor '${name}' has ${end - begin} bytes but shape [${dims}] of F32 needs ${numel(dims) * 4}`);
    entries.push({ name, dtype: 'float32', dims, begin: dataStart + begin, end: dataStart + end });
  }
  entries.sort((a, b) => a.begin - b.begin);
  let cursor = dataStart;
  for (const [i, e] of entries.entries()) {
    if (e.begin < cursor) fail(`tensors '${entries[i - 1].name}' and '${e.name}' overlap`);
    if (e.begin > cursor) fail(`${e.begin - cursor} bytes before tensor '${e.name}' belong to no tensor`);
    cursor = e.end;
  }
  if (cursor !== reader.size) fail(`the tensors' sizes add up to ${cursor - dataStart} data bytes but the file has ${dataLen}`);
  const meta = (header.__metadata__ ?? {}) as Record<string, string>;
  const headerBytes = new Uint8Array(8 + headerLen);
  headerBytes.set(lenBytes, 0);
  headerBytes.set(headerRaw, 8);
  return { headerBytes, entries, metadata: typeof meta === 'object' && meta !== null ? meta : {} };
}

/**
 * Values [from, to) of a float32 tensor, read by range. With `scratch` (at least to - from values)
 * and a reader that can read in place, the values land in it: streaming a large update then
 * allocates nothing per chunk.
 */
export async function readFloats(reader: RangeReader, entry: TensorEntry, from: number, to: number, scratch?: Float32Array): Promise<Float32Array> {
  if (scratch && reader.readInto) {
    const target = new Uint8Array(scratch.buffer, scratch.byteOffset, (to - from) * 4);
    const n = await reader.readInto(entry.begin + from * 4, target);
    if (n !== target.length) throw new ModelFormatError(`tensor '${entry.name}': expected ${target.length} bytes, read ${n} (the file changed?)`, {});
    return scratch.subarray(0, to - from);
  }
  const bytes = await reader.read(entry.begin + from * 4, entry.begin + to * 4);
  if (bytes.length !== (to - from) * 4) throw new ModelFormatError(`tensor '${entry.name}': expected ${(to - from) * 4} bytes, read ${bytes.length} (the file changed?)`, {});
  // A fresh, aligned buffer is viewed as it is; otherwise copied into one (little-endian hosts).
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  return new Float32Array(bytes.slice().buffer);
}
