// Float arenas: the accumulator of mean-type aggregation (or, for FedAvg, the model's own bytes)
// and the read buffers, laid out in one WebAssembly memory so the hot loops run as 128-bit SIMD:
// y += a * x (mean-type strategies), compare-exchange of two rows (the sorting network of the
// coordinate-wise strategies) and the squared distance of two rows (Krum).
// Why our own: V8 does not vectorise JS loops, and with the plain loop FedAvg was compute-bound
// (bench:aggregate at commit 7cc3801: 0.47-0.76 GB/s of updates; with this loop 2.1-2.35 GB/s); an
// onnxruntime Mul+Add per chunk needs two passes and a copy back. Likewise the compare-exchange
// (trimmed mean 0.25 -> 1.75 GB/s over 8 updates, a Float64Array sort per coordinate at ea7b14c)
// and the squared distance (Krum 0.065 -> 0.68 GB/s over 32 updates, the scalar loop at 6e106b5).
// No maintained npm package offers these SIMD loops over caller-owned memory; their source is
// float-arena.wat, assembled by the `wabt` package (`npm run build:wasm`) into float-arena.wasm.ts,
// and plain JS loops take over where WebAssembly cannot hold the model (wasm32 memories stop at
// 4 GiB) or SIMD is missing.
import { FLOAT_ARENA_WASM } from './float-arena.wasm.js';
import { axpy as axpyJs } from './math.js';

const MODULE = FLOAT_ARENA_WASM;

let compiled: WebAssembly.Module | null | undefined;
function wasmModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = WebAssembly.validate(MODULE) ? new WebAssembly.Module(MODULE) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

const PAGE = 65536;
const MAX_PAGES = 65536; // wasm32: 4 GiB

interface Kernels {
  memory: WebAssembly.Memory;
  axpy: (y: number, x: number, n: number, a: number) => void;
  cmpx: (a: number, b: number, n: number) => void;
  sqdist: (a: number, b: number, n: number) => number;
}

/** A memory of `pages` with the SIMD kernels over it, or null where WebAssembly cannot hold it. */
function instantiate(pages: number): Kernels | null {
  const mod = wasmModule();
  if (!mod || pages > MAX_PAGES) return null;
  try {
    const memory = new WebAssembly.Memory({ initial: Math.max(1, pages) });
    const { axpy, cmpx, sqdist } = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as Omit<Kernels, 'memory'>;
    return { memory, axpy, cmpx, sqdist };
  } catch (err) {
    if (err instanceof RangeError) return null; // the memory could not be reserved: plain arrays instead
    throw err;
  }
}

export interface FloatArena {
  /** one zeroed array per tensor, in the order of `sizes` */
  tensors: Map<string, Float32Array>;
  /** scratch arrays to read into, each `bufferLength` long */
  buffers: Float32Array[];
  /** y += a * x; SIMD when both live in the arena */
  axpy(y: Float32Array, a: number, x: Float32Array): void;
  /** a[k], b[k] = min, max of (a[k], b[k]) for every k (equal lengths); SIMD when both live in the arena */
  compareExchange(a: Float32Array, b: Float32Array): void;
  /** sum over k of (a[k] - b[k])^2 (equal lengths), differences in float32, the sum in float64; SIMD when both live in the arena */
  squaredDistance(a: Float32Array, b: Float32Array): number;
  /** whether the SIMD path is in use */
  simd: boolean;
}

/** The two-row kernels take rows of equal length. */
function sameLength(op: string, a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new RangeError(`${op} of ${a.length} and ${b.length} values`);
}

function squaredDistanceJs(a: Float32Array, b: Float32Array, from = 0): number {
  let s = 0;
  for (let k = from; k < a.length; k++) {
    const d = Math.fround(a[k] - b[k]);
    s += d * d;
  }
  return s;
}

function compareExchangeJs(a: Float32Array, b: Float32Array, from = 0): void {
  for (let k = from; k < a.length; k++) {
    const x = a[k];
    const y = b[k];
    if (y < x) {
      a[k] = y;
      b[k] = x;
    }
  }
}

export function allocateArena(sizes: ReadonlyMap<string, number>, bufferCount: number, bufferLength: number): FloatArena {
  // Each array starts on a 16-byte boundary.
  const align = (n: number) => Math.ceil(n / 4) * 4;
  const floats = [...sizes.values()].reduce((s, n) => s + align(n), 0) + bufferCount * align(bufferLength);
  const wasm = instantiate(Math.ceil((floats * 4) / PAGE));
  if (wasm) {
    const { axpy, cmpx, sqdist } = wasm;
    const buffer = wasm.memory.buffer;
    let offset = 0;
    const take = (n: number) => {
      const view = new Float32Array(buffer, offset * 4, n);
      offset += align(n);
      return view;
    };
    const tensors = new Map([...sizes].map(([name, n]) => [name, take(n)]));
    const buffers = Array.from({ length: bufferCount }, () => take(bufferLength));
    return {
      tensors,
      buffers,
      simd: true,
      axpy(y, a, x) {
        const n = Math.min(y.length, x.length);
        if (y.buffer !== buffer || x.buffer !== buffer) return axpyJs(y, a, x);
        const body = n - (n % 4);
        axpy(y.byteOffset, x.byteOffset, body, a);
        for (let i = body; i < n; i++) y[i] += a * x[i];
      },
      compareExchange(a, b) {
        sameLength('compareExchange', a, b);
        if (a.buffer !== buffer || b.buffer !== buffer) return compareExchangeJs(a, b);
        const body = a.length - (a.length % 4);
        cmpx(a.byteOffset, b.byteOffset, body);
        compareExchangeJs(a, b, body);
      },
      squaredDistance(a, b) {
        sameLength('squaredDistance', a, b);
        if (a.buffer !== buffer || b.buffer !== buffer) return squaredDistanceJs(a, b);
        const body = a.length - (a.length % 4);
        return sqdist(a.byteOffset, b.byteOffset, body) + squaredDistanceJs(a, b, body);
      },
    };
  }
  return {
    tensors: new Map([...sizes].map(([name, n]) => [name, new Float32Array(n)])),
    buffers: Array.from({ length: bufferCount }, () => new Float32Array(bufferLength)),
    simd: false,
    axpy: axpyJs,
    compareExchange(a, b) {
      sameLength('compareExchange', a, b);
      compareExchangeJs(a, b);
    },
    squaredDistance(a, b) {
      sameLength('squaredDistance', a, b);
      return squaredDistanceJs(a, b);
    },
  };
}

export interface ByteArena {
  /** `byteLength` bytes (a model's), then the read buffers */
  bytes: Uint8Array;
  buffers: Float32Array[];
  /** adds a * x to the float32 values stored little-endian at `bytes[byteOffset...]` (any alignment) */
  addAt(byteOffset: number, a: number, x: Float32Array): void;
  simd: boolean;
}

/**
 * A model's bytes and read buffers in one memory, for FedAvg summed into the model itself: ONNX
 * raw_data sits at any byte offset, which JS float arrays cannot view but WebAssembly loads can.
 */
export function allocateByteArena(byteLength: number, bufferCount: number, bufferLength: number): ByteArena {
  const head = Math.ceil(byteLength / 16) * 16;
  const total = head + bufferCount * Math.ceil(bufferLength / 4) * 16;
  const wasm = instantiate(Math.ceil(total / PAGE));
  if (wasm) {
    const { memory, axpy } = wasm;
    const bytes = new Uint8Array(memory.buffer, 0, byteLength);
    const view = new DataView(memory.buffer);
    const buffers = Array.from({ length: bufferCount }, (_, i) => new Float32Array(memory.buffer, head + i * Math.ceil(bufferLength / 4) * 16, bufferLength));
    return {
      bytes,
      buffers,
      simd: true,
      addAt(byteOffset, a, x) {
        if (x.buffer !== memory.buffer) throw new RangeError('addAt reads x from the arena');
        const body = x.length - (x.length % 4);
        axpy(byteOffset, x.byteOffset, body, a);
        for (let i = body; i < x.length; i++) {
          const at = byteOffset + 4 * i;
          view.setFloat32(at, view.getFloat32(at, true) + a * x[i], true);
        }
      },
    };
  }
  const bytes = new Uint8Array(byteLength);
  const view = new DataView(bytes.buffer);
  return {
    bytes,
    buffers: Array.from({ length: bufferCount }, () => new Float32Array(bufferLength)),
    simd: false,
    addAt(byteOffset, a, x) {
      if (byteOffset % 4 === 0) return axpyJs(new Float32Array(bytes.buffer, byteOffset, x.length), a, x);
      for (let i = 0; i < x.length; i++) view.setFloat32(byteOffset + 4 * i, view.getFloat32(byteOffset + 4 * i, true) + a * x[i], true);
    },
  };
}
