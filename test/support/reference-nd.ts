// The float64 reference interpreter's convolution, pooling and nearest resize for any number of
// spatial axes (volumes: [N, C, D, H, W]), written from the ONNX operator definitions with plain
// index arithmetic. reference.ts keeps its 2-D loops and calls these for other ranks.
import { getInt, getInts, getString, type Node, numel } from '../../lib/model/graph.js';

export interface T64 {
  dims: number[];
  data: Float64Array;
}

interface Geometry {
  s: number[];
  d: number[];
  begin: number[];
  end: number[];
}

function geometry(node: Node, kernel: number[], spatialIn: number[]): Geometry {
  const n = kernel.length;
  const s = getInts(node, 'strides') ?? Array(n).fill(1);
  const d = getInts(node, 'dilations') ?? Array(n).fill(1);
  const p = getInts(node, 'pads') ?? Array(2 * n).fill(0);
  let begin = p.slice(0, n);
  let end = p.slice(n);
  if (getString(node, 'auto_pad', 'NOTSET') === 'SAME_UPPER') {
    const total = spatialIn.map((size, i) => Math.max(0, (Math.ceil(size / s[i]) - 1) * s[i] + (kernel[i] - 1) * d[i] + 1 - size));
    begin = total.map((t) => Math.floor(t / 2));
    end = total.map((t, i) => t - begin[i]);
  }
  return { s, d, begin, end };
}

/** Row-major coordinates of flat index `k` in `dims`. */
function coords(k: number, dims: number[], out: number[]): number[] {
  for (let i = dims.length - 1; i >= 0; i--) {
    out[i] = k % dims[i];
    k = Math.floor(k / dims[i]);
  }
  return out;
}

/** Flat index of `c` in `dims`, or -1 when any coordinate falls outside. */
function flat(c: number[], dims: number[]): number {
  let f = 0;
  for (let i = 0; i < dims.length; i++) {
    if (c[i] < 0 || c[i] >= dims[i]) return -1;
    f = f * dims[i] + c[i];
  }
  return f;
}

export function convNd(node: Node, x: T64, w: T64, bias?: T64): T64 {
  const [N, C, ...inS] = x.dims;
  const [M, , ...k] = w.dims;
  const g = geometry(node, k, inS);
  const outS = inS.map((size, i) => Math.floor((size + g.begin[i] + g.end[i] - ((k[i] - 1) * g.d[i] + 1)) / g.s[i]) + 1);
  const out: T64 = { dims: [N, M, ...outS], data: new Float64Array(N * M * numel(outS)) };
  const inner = numel(inS);
  const kn = numel(k);
  const oc = outS.map(() => 0);
  const kc = k.map(() => 0);
  const ic = k.map(() => 0);
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) for (let o = 0; o < numel(outS); o++) {
    coords(o, outS, oc);
    let acc = bias ? bias.data[m] : 0;
    for (let c = 0; c < C; c++) for (let q = 0; q < kn; q++) {
      coords(q, k, kc);
      for (let i = 0; i < k.length; i++) ic[i] = oc[i] * g.s[i] + kc[i] * g.d[i] - g.begin[i];
      const at = flat(ic, inS);
      if (at < 0) continue;
      acc += x.data[(n * C + c) * inner + at] * w.data[(m * C + c) * kn + q];
    }
    out.data[(n * M + m) * numel(outS) + o] = acc;
  }
  return out;
}

export function poolNd(node: Node, x: T64, kind: 'max' | 'avg'): T64 {
  const [N, C, ...inS] = x.dims;
  const k = getInts(node, 'kernel_shape')!;
  const g = geometry(node, k, inS);
  const includePad = getInt(node, 'count_include_pad', 0) === 1;
  const outS = inS.map((size, i) => Math.floor((size + g.begin[i] + g.end[i] - k[i]) / g.s[i]) + 1);
  const out: T64 = { dims: [N, C, ...outS], data: new Float64Array(N * C * numel(outS)) };
  const inner = numel(inS);
  const oc = outS.map(() => 0);
  const kc = k.map(() => 0);
  const ic = k.map(() => 0);
  for (let nc = 0; nc < N * C; nc++) for (let o = 0; o < numel(outS); o++) {
    coords(o, outS, oc);
    let acc = kind === 'max' ? -Infinity : 0;
    let count = 0;
    for (let q = 0; q < numel(k); q++) {
      coords(q, k, kc);
      for (let i = 0; i < k.length; i++) ic[i] = oc[i] * g.s[i] + kc[i] - g.begin[i];
      const at = flat(ic, inS);
      if (at < 0) continue;
      const v = x.data[nc * inner + at];
      acc = kind === 'max' ? Math.max(acc, v) : acc + v;
      count++;
    }
    out.data[nc * numel(outS) + o] = kind === 'max' ? acc : acc / (includePad ? numel(k) : count);
  }
  return out;
}

/** Nearest upsampling by integer spatial scales. */
export function resizeNearestNd(x: T64, scales: number[]): T64 {
  const [N, C, ...inS] = x.dims;
  const sc = scales.slice(2);
  const outS = inS.map((d, i) => d * sc[i]);
  const out: T64 = { dims: [N, C, ...outS], data: new Float64Array(N * C * numel(outS)) };
  const oc = outS.map(() => 0);
  const ic = outS.map(() => 0);
  for (let nc = 0; nc < N * C; nc++) for (let o = 0; o < numel(outS); o++) {
    coords(o, outS, oc);
    for (let i = 0; i < sc.length; i++) ic[i] = Math.floor(oc[i] / sc[i]);
    out.data[nc * numel(outS) + o] = x.data[nc * numel(inS) + flat(ic, inS)];
  }
  return out;
}
