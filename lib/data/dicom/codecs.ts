// Decoders for compressed DICOM pixel data. We use the field's maintained WebAssembly builds, the
// ones the OHIF/cornerstone viewers ship: libjpeg-turbo (JPEG baseline/extended, 8-bit), CharLS
// (JPEG-LS), OpenJPEG (JPEG 2000) and OpenJPH (HTJ2K); jpeg-lossless-decoder-js (JPEG lossless,
// process 14, any predictor) is plain JS and the one maintained decoder of that process; for its
// commonest form (one component) our jpeg-lossless.ts is faster and it handles the rest. RLE is
// our own: PS3.5 Annex G is a 40-line PackBits variant and no npm package decodes it standalone.
// Each wasm module loads from node_modules (no network) once per process, on first use.
import { createRequire } from 'node:module';
import { Decoder as JpegLosslessDecoder } from 'jpeg-lossless-decoder-js';
import { decodeLosslessFast } from './jpeg-lossless.js';
import type { PixelEncoding } from './transfer-syntax.js';

const require = createRequire(import.meta.url);

/** What the pixel module says about a frame, which a codec needs to lay out its output. */
export interface FrameLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  signed: boolean;
}

/** A decoded frame: samples in native endian, interleaved when colour (R G B R G B ...). */
export type DecodedSamples = Uint8Array | Uint16Array | Int16Array;

interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  getDecodedBuffer(): Uint8Array;
  getInterleaveMode?(): number;
  delete?(): void;
}
type WasmModule = Record<string, new () => WasmDecoder>;

// A fresh options object per module: emscripten registers its bindings on the object it is given.
const quiet = () => ({ print: () => {}, printErr: () => {} });
const MODULES = {
  'jpeg-baseline': ['@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', 'JPEGDecoder'],
  'jpeg-ls': ['@cornerstonejs/codec-charls/decodewasmjs', 'JpegLSDecoder'],
  jpeg2000: ['@cornerstonejs/codec-openjpeg/decodewasmjs', 'J2KDecoder'],
  htj2k: ['@cornerstonejs/codec-openjph/wasmjs', 'HTJ2KDecoder'],
} as const;
type WasmEncoding = keyof typeof MODULES;

const CODEC_NAMES: Record<WasmEncoding, string> = { 'jpeg-baseline': 'JPEG (libjpeg-turbo)', 'jpeg-ls': 'JPEG-LS (CharLS)', jpeg2000: 'JPEG 2000 (OpenJPEG)', htj2k: 'HTJ2K (OpenJPH)' };

const loaded = new Map<WasmEncoding, WasmDecoder>();
const loading = new Map<WasmEncoding, Promise<void>>();

/** Loads the decoders for these encodings (all when none are named). Safe to call repeatedly. */
export async function loadCodecs(encodings: Iterable<PixelEncoding> = Object.keys(MODULES) as WasmEncoding[]): Promise<void> {
  const wanted = [...new Set(encodings)].filter((e): e is WasmEncoding => e in MODULES && !loaded.has(e as WasmEncoding));
  await Promise.all(wanted.map((e) => {
    let p = loading.get(e);
    if (!p) {
      const [path, cls] = MODULES[e];
      p = (require(path) as (o: object) => Promise<WasmModule>)(quiet()).then((m) => void loaded.set(e, new m[cls]()));
      loading.set(e, p);
    }
    return p;
  }));
}

export class CodecError extends Error {}

/** The sample precision of a JPEG codestream's frame header (SOF0..SOF3), if one is found. */
function jpegPrecision(data: Uint8Array): number | undefined {
  for (let i = 2; i + 4 < data.length && i < 65536; i++) {
    if (data[i] === 0xff && data[i + 1] >= 0xc0 && data[i + 1] <= 0xc3) return data[i + 4];
  }
  return undefined;
}

function decodeWasm(encoding: WasmEncoding, data: Uint8Array, layout: FrameLayout): DecodedSamples {
  if (encoding === 'jpeg-baseline' && (jpegPrecision(data) ?? 8) > 8) {
    // libjpeg-turbo's 8-bit build is the maintained wasm JPEG codec; no npm package decodes 12-bit DCT JPEG.
    throw new CodecError(`12-bit JPEG Extended (DCT) is not decoded by fedrad; convert the file to a lossless syntax first, e.g. with dcmdjpeg then dcmcjpls`);
  }
  const decoder = loaded.get(encoding);
  if (!decoder) throw new CodecError(`the ${CODEC_NAMES[encoding]} decoder is not loaded (call loadCodecs first)`);
  decoder.getEncodedBuffer(data.length).set(data);
  try {
    decoder.decode();
  } catch (cause) {
    // emscripten surfaces a C++ exception as a bare pointer: a number that means nothing to a person
    throw new CodecError(`the ${CODEC_NAMES[encoding]} codestream could not be decoded (${typeof cause === 'number' ? 'the decoder stopped on invalid data' : describe(cause)}); the file may be corrupt`);
  }
  const info = decoder.getFrameInfo();
  if (info.width !== layout.columns || info.height !== layout.rows || info.componentCount !== layout.samplesPerPixel) {
    throw new CodecError(`the codestream is ${info.width}x${info.height} with ${info.componentCount} component(s) but the header says ${layout.columns}x${layout.rows} with ${layout.samplesPerPixel}`);
  }
  const out = decoder.getDecodedBuffer().slice(); // the wasm heap is reused by the next decode
  if (info.bitsPerSample <= 8) {
    // JPEG-LS may return colour planar (interleave mode 0): make it interleaved like the others.
    if (info.componentCount === 3 && decoder.getInterleaveMode?.() === 0) return planarToInterleaved(out, layout.rows * layout.columns);
    return out;
  }
  return layout.signed ? new Int16Array(out.buffer, 0, out.length / 2) : new Uint16Array(out.buffer, 0, out.length / 2);
}

function planarToInterleaved(src: Uint8Array, per: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < per; i++) {
    out[3 * i] = src[i];
    out[3 * i + 1] = src[per + i];
    out[3 * i + 2] = src[2 * per + i];
  }
  return out;
}

function describe(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : typeof cause === 'string' ? cause : 'no message';
  return text.replace(/[\u0000-\u001f]/g, ' ').slice(0, 120);
}

function decodeJpegLossless(data: Uint8Array, layout: FrameLayout): DecodedSamples {
  const bytes = layout.bitsAllocated <= 8 ? 1 : 2;
  const fast = layout.samplesPerPixel === 1 ? decodeLosslessFast(data) : undefined;
  if (fast && fast.width === layout.columns && fast.height === layout.rows) {
    if (bytes === 1) return Uint8Array.from(fast.samples);
    return layout.signed ? new Int16Array(fast.samples.buffer) : fast.samples;
  }
  let out: Uint8Array | Uint16Array;
  try {
    out = new JpegLosslessDecoder().decode(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength, bytes);
  } catch (cause) {
    throw new CodecError(`the JPEG lossless codestream could not be decoded (${describe(cause)}); the file may be corrupt`);
  }
  const count = layout.rows * layout.columns * layout.samplesPerPixel;
  if (out.length < count) throw new CodecError(`the JPEG lossless codestream holds ${out.length} samples, fewer than the header's ${count}`);
  // The decoder returns Uint8Array (8-bit) or Uint16Array (up to 16-bit) of its own: use it in place.
  if (bytes === 1) return out instanceof Uint8Array ? out.subarray(0, count) : Uint8Array.from(out.subarray(0, count));
  const words = out instanceof Uint16Array ? out : Uint16Array.from(out);
  return layout.signed ? new Int16Array(words.buffer, words.byteOffset, count) : words.subarray(0, count);
}

/** RLE Lossless (PS3.5 Annex G): a 64-byte header of segment offsets, each segment PackBits. */
export function decodeRle(data: Uint8Array, layout: FrameLayout): DecodedSamples {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 64) throw new CodecError(`the RLE frame is ${data.length} bytes, shorter than its 64-byte header`);
  const segments = view.getUint32(0, true);
  const bytesPerSample = layout.bitsAllocated / 8;
  const expected = bytesPerSample * layout.samplesPerPixel;
  if (segments !== expected) throw new CodecError(`the RLE header lists ${segments} segments; ${layout.samplesPerPixel} sample(s) of ${layout.bitsAllocated} bits need ${expected}`);
  const per = layout.rows * layout.columns;
  const out = new Uint8Array(per * expected);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : data.length;
    if (start < 64 || start > data.length || end < start) throw new CodecError(`RLE segment ${s + 1} has offset ${start}, outside the frame's ${data.length} bytes`);
    // Segment s holds byte (bytesPerSample - 1 - s % bytesPerSample) (most significant first) of sample s / bytesPerSample.
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    const stride = expected;
    let o = sample * bytesPerSample + byteInSample;
    let n = 0;
    let p = start;
    while (p < end && n < per) {
      const h = data[p++];
      if (h < 128) {
        for (let k = 0; k <= h && n < per; k++, n++, o += stride) out[o] = data[p + k];
        p += h + 1;
      } else if (h > 128) {
        const v = data[p++];
        for (let k = 0; k < 257 - h && n < per; k++, n++, o += stride) out[o] = v;
      }
    }
    if (n < per) throw new CodecError(`RLE segment ${s + 1} decodes to ${n} of its ${per} bytes: the frame is truncated`);
  }
  if (bytesPerSample === 1) return out;
  // Bytes are laid out little-endian per sample above: view them as 16-bit words.
  return layout.signed ? new Int16Array(out.buffer) : new Uint16Array(out.buffer);
}

export function decodeFrame(encoding: Exclude<PixelEncoding, 'native'>, data: Uint8Array, layout: FrameLayout): DecodedSamples {
  if (encoding === 'rle') return decodeRle(data, layout);
  if (encoding === 'jpeg-lossless') return decodeJpegLossless(data, layout);
  return decodeWasm(encoding, data, layout);
}
