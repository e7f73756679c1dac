// A safetensors reader for hostile input that never loads the file: the header is read with a
// bounded length and checked (dtype whitelist, shapes, offsets in range, no overlap, sizes that add
// up to the file), then tensors are read by ranges. A 2 GB file is judged from its first bytes.
import { ModelFormatError } from '../errors.js';
import { parseStrictJson } from '../util/strict-json.js';
import { escapeUntrusted, quoteUntrusted } from '../util/untrusted-text.js';

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
/** `__metadata__` bounds: string keys to string values, this many, this long. */
export const METADATA_LIMITS = { entries: 32, keyLength: 64, valueLength: 256 };

/** What is wrong with a safetensors file, as a stable code the gate reports. */
export type SafetensorsProblem = 'malformed' | 'duplicate-key' | 'bad-metadata';

export class SafetensorsFormatError extends ModelFormatError {
  readonly code: SafetensorsProblem;
  constructor(code: SafetensorsProblem, message: string, context: Record<string, unknown>) {
    super(message, context);
    this.code = code;
  }
}

const name = (n: string) => quoteUntrusted(n, 80);
/** A JSON value from the file, for a message: bounded and escaped, never more than a short prefix. */
const shown = (v: unknown) => escapeUntrusted(JSON.stringify(v) ?? typeof v, 60);

export async function readSafetensorsIndex(reader: RangeReader, source: string, limits: IndexLimits = DEFAULT_INDEX_LIMITS): Promise<SafetensorsIndex> {
  const fail = (why: string, code: SafetensorsProblem = 'malformed'): never => {
    throw new SafetensorsFormatError(code, `${source}: ${why}`, { source });
  };
  if (reader.size < 8) fail(`${reader.size} bytes is too short for a safetensors file (8-byte header length first)`);
  const lenBytes = await reader.read(0, 8);
  if (lenBytes.length !== 8) fail(`the first 8 bytes could not be read (${lenBytes.length} read)`);
  const declared = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(limits.maxHeaderBytes)) fail(`header length ${declared} exceeds the ${limits.maxHeaderBytes}-byte limit`);
  const headerLen = Number(declared);
  if (8 + headerLen > reader.size) fail(`header length ${headerLen} runs past the end of the ${reader.size}-byte file`);
  const headerRaw = await reader.read(8, 8 + headerLen);
  if (headerRaw.length !== headerLen) fail(`the header could not be read whole (${headerRaw.length} of ${headerLen} bytes)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerRaw);
  } catch {
    return fail('header is not valid UTF-8');
  }
  const parsed = parseStrictJson(text);
  if (!parsed.ok) return fail(`header ${parsed.problem.message}`, parsed.problem.code === 'duplicate-key' ? 'duplicate-key' : 'malformed');
  const header = parsed.value as Record<string, unknown>;
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(`header is ${Array.isArray(header) ? 'an array' : `a ${header === null ? 'null' : typeof header}`}, not a JSON object of tensors`);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  if (names.length > limits.maxTensors) fail(`${names.length} tensors exceed the limit of ${limits.maxTensors}`);
  const metadata = readMetadata(header.__metadata__, fail);
  const dataStart = 8 + headerLen;
  const dataLen = reader.size - dataStart;
  const entries: TensorEntry[] = [];
  for (const n of names) {
    const e = header[n] as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) fail(`tensor ${name(n)} is described by ${shown(e)}, not an object with dtype, shape and data_offsets`);
    const extra = Object.keys(e).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (extra.length) fail(`tensor ${name(n)} has unknown field ${quoteUntrusted(extra[0], 40)}; allowed: dtype, shape, data_offsets`);
    if (e.dtype === undefined) fail(`tensor ${name(n)} has no dtype; updates must be "F32"`);
    if (e.dtype !== 'F32') fail(`tensor ${name(n)} has dtype ${shown(e.dtype)}; updates must be "F32"`);
    if (e.shape === undefined) fail(`tensor ${name(n)} has no shape; give it as an array of non-negative integers`);
    if (!Array.isArray(e.shape) || e.shape.length > 8 || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor ${name(n)} has shape ${shown(e.shape)}; a shape is an array of at most 8 non-negative integers`);
    if (e.data_offsets === undefined) fail(`tensor ${name(n)} has no data_offsets; give [begin, end] byte offsets into the data`);
    const offs = e.data_offsets as unknown[];
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) fail(`tensor ${name(n)} has data_offsets ${shown(e.data_offsets)}; they must be [begin, end], two non-negative integers`);
    const [begin, end] = offs as number[];
    if (begin > end) fail(`tensor ${name(n)} has reversed data_offsets [${begin}, ${end}]: begin must not exceed end`);
    if (end > dataLen) fail(`tensor ${name(n)} data_offsets [${begin}, ${end}] run past the ${dataLen} data bytes`);
    const dims = e.shape as number[];
    const need = dims.reduce((a, d) => a * d, 1) * 4;
    if (end - begin !== need) fail(`tensor ${name(n)} has ${end - begin} bytes but shape [${dims}] of F32 needs ${need}`);
    entries.push({ name: n, dtype: 'float32', dims, begin: dataStart + begin, end: dataStart + end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = dataStart;
  for (const [i, e] of entries.entries()) {
    if (e.begin < cursor) fail(`tensors ${name(entries[i - 1].name)} and ${name(e.name)} overlap`);
    if (e.begin > cursor) fail(`${e.begin - cursor} bytes before tensor ${name(e.name)} belong to no tensor`);
    cursor = e.end;
  }
  if (cursor !== reader.size) fail(`the tensors' sizes add up to ${cursor - dataStart} data bytes but the file has ${dataLen}`);
  const headerBytes = new Uint8Array(8 + headerLen);
  headerBytes.set(lenBytes, 0);
  headerBytes.set(headerRaw, 8);
  return { headerBytes, entries, metadata };
}

/** `__metadata__`: absent, or an object of at most METADATA_LIMITS.entries strings (safetensors' own rule, bounded). */
function readMetadata(raw: unknown, fail: (why: string, code: SafetensorsProblem) => never): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail(`__metadata__ is ${shown(raw)}; it must be an object of string values`, 'bad-metadata');
  const entries = Object.entries(raw);
  if (entries.length > METADATA_LIMITS.entries) fail(`__metadata__ has ${entries.length} entries; at most ${METADATA_LIMITS.entries} are accepted`, 'bad-metadata');
  for (const [k, v] of entries) {
    if (k.length > METADATA_LIMITS.keyLength) fail(`__metadata__ key ${quoteUntrusted(k, 40)} is ${k.length} characters long; at most ${METADATA_LIMITS.keyLength}`, 'bad-metadata');
    if (typeof v !== 'string') fail(`__metadata__ ${quoteUntrusted(k, 40)} is ${shown(v)}; metadata values must be strings`, 'bad-metadata');
    if ((v as string).length > METADATA_LIMITS.valueLength) fail(`__metadata__ ${quoteUntrusted(k, 40)} is ${(v as string).length} characters long; at most ${METADATA_LIMITS.valueLength}`, 'bad-metadata');
  }
  return raw as Record<string, string>;
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
