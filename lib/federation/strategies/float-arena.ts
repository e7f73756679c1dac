// Float arenas: the accumulator of mean-type aggregation (or, for FedAvg, the model's own bytes)
// and the read buffers, laid out in one WebAssembly memory so the hot loops run as 128-bit SIMD:
// y += a * x (mean-type strategies), compare-exchange of two rows (the sorting network of the
// coordinate-wise strategies) and the squared distance of two rows (Krum).
// Why our own: V8 does not vectorise JS loops, and with the plain loop FedAvg was compute-bound
// (bench:aggregate at commit 7cc3801: 0.47-0.76 GB/s of updates; with this loop 2.1-2.35 GB/s); an
// onnxruntime Mul+Add per chunk needs two passes and a copy back. Likewise the compare-exchange
// (trimmed mean 0.25 -> 1.75 GB/s over 8 updates, a Float64Array sort per coordinate at ea7b14c)
// and the squared distance (Krum 0.065 -> 0.68 GB/s over 32 updates, the scalar loop at 6e106b5).
// No maintained npm package offers these SIMD loops over caller-owned memory; the module is
// assembled below from its bytes (no toolchain, nothing downloaded), and plain JS loops take over
// where WebAssembly cannot hold the model (wasm32 memories stop at 4 GiB) or SIMD is missing.
import { axpy as axpyJs } from './math.js';

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const section = (id: number, bytes: number[]) => [id, ...leb(bytes.length), ...bytes];
const name = (s: string) => [s.length, ...new TextEncoder().encode(s)];
const SIMD = (op: number) => [0xfd, ...leb(op)];
const LOAD = [...SIMD(0x00), 4, 0]; // v128.load align=16 offset=0
const STORE = [...SIMD(0x0b), 4, 0]; // v128.store

/**
 * (func (export "axpy") (param $y i32) (param $x i32) (param $n i32) (param $a f32)
 *   $end = $y + 4 * $n; $av = f32x4.splat $a
 *   loop while $y < $end: store $y (f32x4.add (load $y) (f32x4.mul $av (load $x))); $y += 16; $x += 16)
 * `n` must be a multiple of 4; the caller adds any tail.
 */
const AXPY_BODY = [
  2, 1, 0x7f, 1, 0x7b, // locals: $end i32, $av v128
  0x20, 0, 0x20, 2, 0x41, 2, 0x74, 0x6a, 0x21, 4, // $end = $y + ($n << 2)
  0x20, 3, ...SIMD(0x13), 0x21, 5, // $av = f32x4.splat($a)
  0x02, 0x40, 0x03, 0x40, // block, loop
  0x20, 0, 0x20, 4, 0x4f, 0x0d, 1, // br_if out when $y >= $end (unsigned)
  0x20, 0, // store address
  0x20, 0, ...LOAD, // y
  0x20, 5, 0x20, 1, ...LOAD, ...SIMD(0xe6), // av * x   (f32x4.mul)
  ...SIMD(0xe4), // y + av * x   (f32x4.add)
  ...STORE,
  0x20, 0, 0x41, 16, 0x6a, 0x21, 0, // $y += 16
  0x20, 1, 0x41, 16, 0x6a, 0x21, 1, // $x += 16
  0x0c, 0, 0x0b, 0x0b, 0x0b, // br loop; end loop; end block; end func
];
/**
 * (func (export "cmpx") (param $a i32) (param $b i32) (param $n i32)
 *   loop over 4 lanes at a time: $va = load $a; $vb = load $b;
 *     store $a (f32x4.pmin $va $vb); store $b (f32x4.pmax $va $vb); $a += 16; $b += 16)
 * Afterwards a[k] <= b[k] for every k: one comparator of a sorting network, on n coordinates at once.
 * `n` must be a multiple of 4; the caller handles any tail.
 */
const CMPX_BODY = [
  2, 1, 0x7f, 2, 0x7b, // locals: $end i32, $va v128, $vb v128
  0x20, 0, 0x20, 2, 0x41, 2, 0x74, 0x6a, 0x21, 3, // $end = $a + ($n << 2)
  0x02, 0x40, 0x03, 0x40, // block, loop
  0x20, 0, 0x20, 3, 0x4f, 0x0d, 1, // br_if out when $a >= $end (unsigned)
  0x20, 0, ...LOAD, 0x21, 4, // $va = load $a
  0x20, 1, ...LOAD, 0x21, 5, // $vb = load $b
  0x20, 0, 0x20, 4, 0x20, 5, ...SIMD(0xea), ...STORE, // store $a (f32x4.pmin: $vb < $va ? $vb : $va)
  0x20, 1, 0x20, 4, 0x20, 5, ...SIMD(0xeb), ...STORE, // store $b (f32x4.pmax: $va < $vb ? $vb : $va)
  0x20, 0, 0x41, 16, 0x6a, 0x21, 0, // $a += 16
  0x20, 1, 0x41, 16, 0x6a, 0x21, 1, // $b += 16
  0x0c, 0, 0x0b, 0x0b, 0x0b, // br loop; end loop; end block; end func
];
/**
 * (func (export "sqdist") (param $a i32) (param $b i32) (param $n i32) (result f64)
 *   loop over 4 lanes at a time: $d = f32x4.sub (load $a) (load $b);
 *     its low and high halves promoted to f64x2, squared and summed into $acc0 and $acc1
 *   the four f64 lanes added)
 * Differences in float32 (the values are float32), squares and sums in float64.
 * `n` must be a multiple of 4; the caller adds any tail.
 */
const SQDIST_BODY = [
  2, 1, 0x7f, 4, 0x7b, // locals: $end i32; $d, $acc0, $acc1, $p v128 (4, 5, 6, 7)
  0x20, 0, 0x20, 2, 0x41, 2, 0x74, 0x6a, 0x21, 3, // $end = $a + ($n << 2)
  0x02, 0x40, 0x03, 0x40, // block, loop
  0x20, 0, 0x20, 3, 0x4f, 0x0d, 1, // br_if out when $a >= $end (unsigned)
  0x20, 0, ...LOAD, 0x20, 1, ...LOAD, ...SIMD(0xe5), 0x21, 4, // $d = f32x4.sub
  0x20, 4, ...SIMD(0x5f), 0x22, 7, 0x20, 7, ...SIMD(0xf2), 0x20, 5, ...SIMD(0xf0), 0x21, 5, // $acc0 += promote_low($d)^2
  0x20, 4, 0x20, 4, ...SIMD(0x0d), 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, // high half of $d to the low
  ...SIMD(0x5f), 0x22, 7, 0x20, 7, ...SIMD(0xf2), 0x20, 6, ...SIMD(0xf0), 0x21, 6, // $acc1 += its square
  0x20, 0, 0x41, 16, 0x6a, 0x21, 0, // $a += 16
  0x20, 1, 0x41, 16, 0x6a, 0x21, 1, // $b += 16
  0x0c, 0, 0x0b, 0x0b, // br loop; end loop; end block
  0x20, 5, 0x20, 6, ...SIMD(0xf0), 0x22, 7, ...SIMD(0x21), 0, 0x20, 7, ...SIMD(0x21), 1, 0xa0, // lane 0 + lane 1 of $acc0 + $acc1
  0x0b, // end func
];
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
  // types: (i32 i32 i32 f32) -> (), (i32 i32 i32) -> (), (i32 i32 i32) -> f64
  ...section(1, [3, 0x60, 4, 0x7f, 0x7f, 0x7f, 0x7d, 0, 0x60, 3, 0x7f, 0x7f, 0x7f, 0, 0x60, 3, 0x7f, 0x7f, 0x7f, 1, 0x7c]),
  ...section(2, [1, ...name('env'), ...name('memory'), 2, 0, 1]), // import memory (min 1 page)
  ...section(3, [3, 0, 1, 2]),
  ...section(7, [3, ...name('axpy'), 0, 0, ...name('cmpx'), 0, 1, ...name('sqdist'), 0, 2]),
  ...section(10, [3, ...leb(AXPY_BODY.length), ...AXPY_BODY, ...leb(CMPX_BODY.length), ...CMPX_BODY, ...leb(SQDIST_BODY.length), ...SQDIST_BODY]),
]);

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
