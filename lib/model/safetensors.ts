// safetensors read/write (8-byte LE header length, JSON header, raw LE data). Our own code because
// the npm registry has no maintained pure-JS safetensors library, and the format is a page long.
import { ModelFormatError } from '../errors.js';
import { numel, type TensorData } from './graph.js';

const DTYPES = { F32: { dtype: 'float32', bytes: 4 }, I64: { dtype: 'int64', bytes: 8 } } as const;
type SafetensorsDtype = keyof typeof DTYPES;

/** A header larger than this is refused before it is parsed. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;

export interface SafetensorsFile {
  tensors: Map<string, TensorData>;
  metadata: Record<string, string>;
}

export function encodeSafetensors(tensors: ReadonlyMap<string, TensorData>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype === 'float32' ? 'F32' : 'I64', shape: t.dims, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keeps the data 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors file'): SafetensorsFile {
  const fail = (why: string): never => {
    throw new ModelFormatError(`${source}: ${why}`, { source });
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for a safetensors file (8-byte header length first)`);
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (8 + headerLen > bytes.length) fail(`header length ${headerLen} runs past the end of the ${bytes.length}-byte file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (cause) {
    return fail(`header is not valid UTF-8 JSON (${(cause as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, TensorData>();
  const ranges: Array<[number, number, string]> = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    const spec = DTYPES[e.dtype as SafetensorsDtype];
    if (!spec) fail(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; allowed: ${Object.keys(DTYPES).join(', ')}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets as number[];
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[0] > offs[1]) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(e.data_offsets)}`);
    }
    const [begin, end] = offs;
    if (end > dataLen) fail(`tensor '${name}' data_offsets [${begin}, ${end}] run past the ${dataLen} data bytes`);
    const dims = e.shape as number[];
    if ((end - begin) !== numel(dims) * spec.bytes) fail(`tensor '${name}' has ${end - begin} bytes but shape [${dims}] of ${e.dtype} needs ${numel(dims) * spec.bytes}`);
    ranges.push([begin, end, name]);
    const copy = bytes.slice(dataStart + begin, dataStart + end);
    const data = spec.dtype === 'float32' ? new Float32Array(copy.buffer) : new BigInt64Array(copy.buffer);
    tensors.set(name, { dtype: spec.dtype, dims, data });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) fail(`tensors '${ranges[i - 1][2]}' and '${ranges[i][2]}' overlap`);
  }
  return { tensors, metadata };
}
