// An independent float64 interpreter of the ops fedrad trains, written straight from the ONNX
// operator definitions with plain loops (no lowering, no backward rules). Gradient checks take
// central differences of its loss and compare them with the training graph's gradients, because
// onnxruntime has no float64 Conv on the CPU.
import { getFloat, getInt, getInts, getString, type Model, type Node, numel } from '../../lib/model/graph.js';
import { DICE_SMOOTH } from '../../lib/model/losses.js';
import { convNd, poolNd, resizeNearestNd } from './reference-nd.js';

export interface T64 {
  dims: number[];
  data: Float64Array;
}

const t64 = (dims: number[], data?: Float64Array): T64 => ({ dims, data: data ?? new Float64Array(numel(dims)) });

function strides(dims: number[]): number[] {
  const s = Array(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

function broadcast(a: T64, b: T64, f: (x: number, y: number) => number): T64 {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: number[]) => [...Array(rank - d.length).fill(1), ...d];
  const ad = pad(a.dims);
  const bd = pad(b.dims);
  const od = ad.map((d, i) => Math.max(d, bd[i]));
  const as = strides(ad).map((s, i) => (ad[i] === 1 ? 0 : s));
  const bs = strides(bd).map((s, i) => (bd[i] === 1 ? 0 : s));
  const os = strides(od);
  const out = t64(od);
  for (let k = 0; k < out.data.length; k++) {
    let ia = 0;
    let ib = 0;
    let rem = k;
    for (let i = 0; i < rank; i++) {
      const c = Math.floor(rem / os[i]);
      rem -= c * os[i];
      ia += c * as[i];
      ib += c * bs[i];
    }
    out.data[k] = f(a.data[ia], b.data[ib]);
  }
  return out;
}

const map = (x: T64, f: (v: number) => number): T64 => t64([...x.dims], x.data.map(f));

function transpose(x: T64, perm: number[]): T64 {
  const od = perm.map((p) => x.dims[p]);
  const xs = strides(x.dims);
  const os = strides(od);
  const out = t64(od);
  for (let k = 0; k < out.data.length; k++) {
    let rem = k;
    let src = 0;
    for (let i = 0; i < od.length; i++) {
      const c = Math.floor(rem / os[i]);
      rem -= c * os[i];
      src += c * xs[perm[i]];
    }
    out.data[k] = x.data[src];
  }
  return out;
}

function matmul(a: T64, b: T64): T64 {
  const [m, k] = a.dims.slice(-2);
  const n = b.dims[b.dims.length - 1];
  const batchA = a.dims.slice(0, -2);
  const batchB = b.dims.slice(0, -2);
  const rank = Math.max(batchA.length, batchB.length);
  const pa = [...Array(rank - batchA.length).fill(1), ...batchA];
  const pb = [...Array(rank - batchB.length).fill(1), ...batchB];
  const batch = pa.map((d, i) => Math.max(d, pb[i]));
  const out = t64([...batch, m, n]);
  const bsz = numel(batch);
  const bst = strides(batch);
  for (let bi = 0; bi < bsz; bi++) {
    let oa = 0;
    let ob = 0;
    let rem = bi;
    const sa = strides(pa);
    const sb = strides(pb);
    for (let i = 0; i < rank; i++) {
      const c = Math.floor(rem / bst[i]);
      rem -= c * bst[i];
      oa += (pa[i] === 1 ? 0 : c) * sa[i];
      ob += (pb[i] === 1 ? 0 : c) * sb[i];
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += a.data[oa * m * k + i * k + q] * b.data[ob * k * n + q * n + j];
        out.data[bi * m * n + i * n + j] = s;
      }
    }
  }
  return out;
}

function geometry(node: Node, kernel: number[], input?: number[]) {
  const s = getInts(node, 'strides') ?? [1, 1];
  const d = getInts(node, 'dilations') ?? [1, 1];
  let p = getInts(node, 'pads') ?? [0, 0, 0, 0];
  if (getString(node, 'auto_pad', 'NOTSET') === 'SAME_UPPER' && input) {
    // ONNX: output = ceil(in / stride); the odd padding pixel goes at the end.
    const total = [0, 1].map((i) => Math.max(0, (Math.ceil(input[2 + i] / s[i]) - 1) * s[i] + (kernel[i] - 1) * d[i] + 1 - input[2 + i]));
    p = [Math.floor(total[0] / 2), Math.floor(total[1] / 2), total[0] - Math.floor(total[0] / 2), total[1] - Math.floor(total[1] / 2)];
  }
  return { s, d, p, k: kernel };
}

function conv(node: Node, x: T64, w: T64, bias?: T64): T64 {
  const [N, C, H, W] = x.dims;
  const [M, CG, KH, KW] = w.dims;
  const group = getInt(node, 'group', 1);
  const { s, d, p } = geometry(node, [KH, KW], x.dims);
  const OH = Math.floor((H + p[0] + p[2] - ((KH - 1) * d[0] + 1)) / s[0]) + 1;
  const OW = Math.floor((W + p[1] + p[3] - ((KW - 1) * d[1] + 1)) / s[1]) + 1;
  const out = t64([N, M, OH, OW]);
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    let acc = bias ? bias.data[m] : 0;
    // group g: output channel m reads input channels g*CG .. g*CG+CG-1 (CG = C / group)
    const first = Math.floor(m / (M / group)) * CG;
    for (let c = 0; c < CG; c++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const ih = oh * s[0] + kh * d[0] - p[0];
      const iw = ow * s[1] + kw * d[1] - p[1];
      if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
      acc += x.data[((n * C + first + c) * H + ih) * W + iw] * w.data[((m * CG + c) * KH + kh) * KW + kw];
    }
    out.data[((n * M + m) * OH + oh) * OW + ow] = acc;
  }
  return out;
}

function convTranspose(node: Node, x: T64, w: T64, bias?: T64): T64 {
  const [N, C, H, W] = x.dims;
  const [, MG, KH, KW] = w.dims;
  const group = getInt(node, 'group', 1);
  const M = MG * group;
  const { s, d, p } = geometry(node, [KH, KW]);
  const op = getInts(node, 'output_padding') ?? [0, 0];
  const OH = s[0] * (H - 1) + op[0] + (KH - 1) * d[0] + 1 - p[0] - p[2];
  const OW = s[1] * (W - 1) + op[1] + (KW - 1) * d[1] + 1 - p[1] - p[3];
  const out = t64([N, M, OH, OW]);
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) for (let i = 0; i < OH * OW; i++) out.data[(n * M + m) * OH * OW + i] = bias ? bias.data[m] : 0;
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let ih = 0; ih < H; ih++) for (let iw = 0; iw < W; iw++) {
    const v = x.data[((n * C + c) * H + ih) * W + iw];
    // group g: input channel c writes output channels g*MG .. g*MG+MG-1
    const first = Math.floor(c / (C / group)) * MG;
    for (let mm = 0; mm < MG; mm++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const oh = ih * s[0] + kh * d[0] - p[0];
      const ow = iw * s[1] + kw * d[1] - p[1];
      if (oh < 0 || ow < 0 || oh >= OH || ow >= OW) continue;
      out.data[((n * M + first + mm) * OH + oh) * OW + ow] += v * w.data[((c * MG + mm) * KH + kh) * KW + kw];
    }
  }
  return out;
}

function pool(node: Node, x: T64, kind: 'max' | 'avg'): T64 {
  const [N, C, H, W] = x.dims;
  const k = getInts(node, 'kernel_shape')!;
  const { s, p } = geometry(node, k);
  const includePad = getInt(node, 'count_include_pad', 0) === 1;
  const OH = Math.floor((H + p[0] + p[2] - k[0]) / s[0]) + 1;
  const OW = Math.floor((W + p[1] + p[3] - k[1]) / s[1]) + 1;
  const out = t64([N, C, OH, OW]);
  for (let nc = 0; nc < N * C; nc++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    let acc = kind === 'max' ? -Infinity : 0;
    let count = 0;
    for (let kh = 0; kh < k[0]; kh++) for (let kw = 0; kw < k[1]; kw++) {
      const ih = oh * s[0] + kh - p[0];
      const iw = ow * s[1] + kw - p[1];
      if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
      const v = x.data[(nc * H + ih) * W + iw];
      acc = kind === 'max' ? Math.max(acc, v) : acc + v;
      count++;
    }
    out.data[(nc * OH + oh) * OW + ow] = kind === 'max' ? acc : acc / (includePad ? k[0] * k[1] : count);
  }
  return out;
}

function batchNormTraining(node: Node, x: T64, scale: T64, bias: T64): T64 {
  const [N, C] = x.dims;
  const inner = numel(x.dims.slice(2));
  const eps = getFloat(node, 'epsilon', 1e-5);
  const out = t64([...x.dims]);
  for (let c = 0; c < C; c++) {
    let mean = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < inner; i++) mean += x.data[(n * C + c) * inner + i];
    mean /= N * inner;
    let v = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < inner; i++) v += (x.data[(n * C + c) * inner + i] - mean) ** 2;
    v /= N * inner;
    const inv = 1 / Math.sqrt(v + eps);
    for (let n = 0; n < N; n++) for (let i = 0; i < inner; i++) {
      const idx = (n * C + c) * inner + i;
      out.data[idx] = (x.data[idx] - mean) * inv * scale.data[c] + bias.data[c];
    }
  }
  return out;
}

function concat(xs: T64[], axis: number): T64 {
  const dims = [...xs[0].dims];
  dims[axis] = xs.reduce((a, x) => a + x.dims[axis], 0);
  const outer = numel(dims.slice(0, axis));
  const out = t64(dims);
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      const chunk = numel(x.dims.slice(axis));
      out.data.set(x.data.subarray(o * chunk, (o + 1) * chunk), pos);
      pos += chunk;
    }
  }
  return out;
}

function resizeNearest(x: T64, scales: number[]): T64 {
  const [N, C, H, W] = x.dims;
  const [sh, sw] = [scales[2], scales[3]];
  const OH = H * sh;
  const OW = W * sw;
  const out = t64([N, C, OH, OW]);
  for (let nc = 0; nc < N * C; nc++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    out.data[(nc * OH + oh) * OW + ow] = x.data[(nc * H + Math.floor(oh / sh)) * W + Math.floor(ow / sw)];
  }
  return out;
}

function instanceNorm(x: T64, scale: T64, bias: T64, eps: number): T64 {
  const [n, c] = x.dims;
  const inner = numel(x.dims.slice(2));
  const out = t64([...x.dims]);
  for (let i = 0; i < n * c; i++) {
    let mean = 0;
    for (let j = 0; j < inner; j++) mean += x.data[i * inner + j];
    mean /= inner;
    let v = 0;
    for (let j = 0; j < inner; j++) v += (x.data[i * inner + j] - mean) ** 2;
    v /= inner;
    for (let j = 0; j < inner; j++) out.data[i * inner + j] = ((x.data[i * inner + j] - mean) / Math.sqrt(v + eps)) * scale.data[i % c] + bias.data[i % c];
  }
  return out;
}

/** ONNX Resize, mode linear, written from the operator's definition: per output element, the 2^k corners. */
function resizeLinear(x: T64, sizes: number[], mode: string): T64 {
  const out = t64(sizes);
  const rank = sizes.length;
  const xs = strides(x.dims);
  const os = strides(sizes);
  const coord = (o: number, inSize: number, outSize: number) => {
    const scale = outSize / inSize;
    let v = mode === 'align_corners' ? (outSize > 1 ? (o * (inSize - 1)) / (outSize - 1) : 0) : mode === 'asymmetric' ? o / scale : mode === 'pytorch_half_pixel' && outSize === 1 ? 0 : (o + 0.5) / scale - 0.5;
    v = Math.min(Math.max(v, 0), inSize - 1);
    return v;
  };
  for (let k = 0; k < out.data.length; k++) {
    const idx = sizes.map((_, i) => Math.floor(k / os[i]) % sizes[i]);
    const axes = idx.map((o, i) => {
      if (x.dims[i] === sizes[i]) return { lo: o, hi: o, w: 0 };
      const v = coord(o, x.dims[i], sizes[i]);
      const lo = Math.floor(v);
      return { lo, hi: Math.min(lo + 1, x.dims[i] - 1), w: v - lo };
    });
    let sum = 0;
    for (let corner = 0; corner < 2 ** rank; corner++) {
      let weight = 1;
      let src = 0;
      for (let i = 0; i < rank; i++) {
        const high = (corner >> i) & 1;
        weight *= high ? axes[i].w : 1 - axes[i].w;
        src += (high ? axes[i].hi : axes[i].lo) * xs[i];
      }
      if (weight !== 0) sum += weight * x.data[src];
    }
    out.data[k] = sum;
  }
  return out;
}

function softmax(x: T64, axis: number): T64 {
  const a = axis < 0 ? axis + x.dims.length : axis;
  const outer = numel(x.dims.slice(0, a));
  const len = x.dims[a];
  const inner = numel(x.dims.slice(a + 1));
  const out = t64([...x.dims]);
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
    let mx = -Infinity;
    for (let k = 0; k < len; k++) mx = Math.max(mx, x.data[(o * len + k) * inner + i]);
    let sum = 0;
    for (let k = 0; k < len; k++) sum += Math.exp(x.data[(o * len + k) * inner + i] - mx);
    for (let k = 0; k < len; k++) out.data[(o * len + k) * inner + i] = Math.exp(x.data[(o * len + k) * inner + i] - mx) / sum;
  }
  return out;
}

/** Mean over the given axes (opset 18: axes as the second input). */
function reduceMean(x: T64, axes: number[], keepdims: number): T64 {
  const axs = new Set(axes.map((a) => (a < 0 ? a + x.dims.length : a)));
  const outDims = x.dims.map((d, i) => (axs.has(i) ? 1 : d));
  const out = t64(outDims);
  const strides = x.dims.map((_, i) => numel(x.dims.slice(i + 1)));
  const outStrides = outDims.map((_, i) => numel(outDims.slice(i + 1)));
  const count = numel(x.dims) / numel(outDims);
  for (let flat = 0; flat < x.data.length; flat++) {
    let o = 0;
    for (let i = 0; i < x.dims.length; i++) if (!axs.has(i)) o += (Math.floor(flat / strides[i]) % x.dims[i]) * outStrides[i];
    out.data[o] += x.data[flat] / count;
  }
  return keepdims ? out : t64(outDims.filter((_, i) => !axs.has(i)), out.data);
}

function evalNode(node: Node, ins: T64[]): T64 {
  const [x, y, z] = ins;
  switch (node.op) {
    case 'Add': return broadcast(x, y, (a, b) => a + b);
    case 'Sub': return broadcast(x, y, (a, b) => a - b);
    case 'Mul': return broadcast(x, y, (a, b) => a * b);
    case 'Div': return broadcast(x, y, (a, b) => a / b);
    case 'Relu': return map(x, (v) => Math.max(0, v));
    case 'LeakyRelu': { const al = getFloat(node, 'alpha', 0.01); return map(x, (v) => (v > 0 ? v : al * v)); }
    case 'Sigmoid': return map(x, (v) => 1 / (1 + Math.exp(-v)));
    case 'Tanh': return map(x, Math.tanh);
    case 'Identity': case 'Dropout': return x;
    case 'Conv': return x.dims.length === 4 ? conv(node, x, y, z) : convNd(node, x, y, z);
    case 'ConvTranspose': return convTranspose(node, x, y, z);
    case 'MatMul': return matmul(x, y);
    case 'Gemm': {
      const a = getInt(node, 'transA', 0) ? transpose(x, [1, 0]) : x;
      const b = getInt(node, 'transB', 0) ? transpose(y, [1, 0]) : y;
      let r = map(matmul(a, b), (v) => v * getFloat(node, 'alpha', 1));
      if (z) r = broadcast(r, z, (u, c) => u + getFloat(node, 'beta', 1) * c);
      return r;
    }
    case 'MaxPool': return x.dims.length === 4 ? pool(node, x, 'max') : poolNd(node, x, 'max');
    case 'AveragePool': return x.dims.length === 4 ? pool(node, x, 'avg') : poolNd(node, x, 'avg');
    case 'GlobalAveragePool': {
      const inner = numel(x.dims.slice(2));
      const out = t64([x.dims[0], x.dims[1], ...x.dims.slice(2).map(() => 1)]);
      for (let i = 0; i < out.data.length; i++) { let s = 0; for (let j = 0; j < inner; j++) s += x.data[i * inner + j]; out.data[i] = s / inner; }
      return out;
    }
    case 'BatchNormalization': return batchNormTraining(node, x, y, z);
    case 'Concat': { const ax = getInt(node, 'axis', 0); return concat(ins, ax < 0 ? ax + x.dims.length : ax); }
    case 'InstanceNormalization': return instanceNorm(x, y, z, getFloat(node, 'epsilon', 1e-5));
    case 'PRelu': return broadcast(x, y, (v, s) => (v >= 0 ? v : s * v));
    case 'Resize': {
      if (getString(node, 'mode', 'nearest') === 'linear') {
        const sizes = ins[3] && ins[3].data.length > 0 ? Array.from(ins[3].data) : Array.from(ins[2].data, (s, i) => Math.floor(x.dims[i] * s));
        return resizeLinear(x, sizes, getString(node, 'coordinate_transformation_mode', 'half_pixel'));
      }
      if (getString(node, 'mode', 'nearest') !== 'nearest') throw new Error('reference: nearest or linear only');
      const scales = ins[2] && ins[2].data.length > 0 ? Array.from(ins[2].data) : Array.from(ins[3].data, (s, i) => s / x.dims[i]);
      return x.dims.length === 4 ? resizeNearest(x, scales) : resizeNearestNd(x, scales);
    }
    // Exporters' shape arithmetic, evaluated as the ONNX operator definitions say.
    case 'Constant': {
      const v = node.attrs.value;
      if (v?.kind !== 'tensor') throw new Error('reference: Constant takes the value tensor form');
      return t64([...v.value.dims], Float64Array.from(v.value.data as ArrayLike<number>, Number));
    }
    case 'Shape': return t64([x.dims.length], Float64Array.from(x.dims));
    case 'Gather': {
      const n = x.dims[0];
      return t64([...y.dims], y.data.map((i) => x.data[i < 0 ? i + n : i]));
    }
    case 'Unsqueeze': {
      const axes = Array.from(y.data, (a) => (a < 0 ? a + x.dims.length + y.data.length : a));
      const dims: number[] = [];
      for (let i = 0, k = 0; i < x.dims.length + axes.length; i++) dims.push(axes.includes(i) ? 1 : x.dims[k++]);
      return t64(dims, x.data);
    }
    case 'Cast': return x;
    case 'Slice': {
      const n = x.dims[0];
      const norm = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
      const picked = x.data.slice(norm(y.data[0]), norm(z.data[0]));
      return t64([picked.length], picked);
    }
    case 'Flatten': { const ax = getInt(node, 'axis', 1); return t64([numel(x.dims.slice(0, ax)), numel(x.dims.slice(ax))], x.data); }
    case 'Reshape': {
      const target = Array.from(y.data).map((d, i) => (d === 0 ? x.dims[i] : d));
      const inf = target.indexOf(-1);
      if (inf >= 0) target[inf] = numel(x.dims) / numel(target.filter((_, i) => i !== inf));
      return t64(target, x.data);
    }
    case 'Transpose': return transpose(x, getInts(node, 'perm') ?? x.dims.map((_, i) => x.dims.length - 1 - i));
    case 'Softmax': return softmax(x, getInt(node, 'axis', -1));
    case 'Sqrt': return map(x, Math.sqrt);
    case 'ReduceMean': return reduceMean(x, y ? Array.from(y.data) : (getInts(node, 'axes') ?? x.dims.map((_, i) => i)), getInt(node, 'keepdims', 1));
    default: throw new Error(`reference interpreter: op ${node.op} not implemented`);
  }
}

/** Runs the model in float64 with batch-statistics BatchNormalization (training mode). */
export function runReference(model: Model, inputs: Record<string, T64>, overrides: ReadonlyMap<string, T64> = new Map()): Map<string, T64> {
  const values = new Map<string, T64>();
  for (const [name, t] of model.graph.initializers) {
    values.set(name, overrides.get(name) ?? t64([...t.dims], Float64Array.from(t.data as ArrayLike<number>, Number)));
  }
  for (const [name, t] of Object.entries(inputs)) values.set(name, t);
  for (const node of model.graph.nodes) {
    const ins = node.inputs.map((n) => values.get(n)!);
    values.set(node.outputs[0], evalNode(node, ins));
  }
  return values;
}

export type ReferenceLoss = 'softmax-cross-entropy' | 'sigmoid-bce' | 'soft-dice' | 'bce-dice';

export function referenceLoss(loss: ReferenceLoss, z: T64, t: T64): number {
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const bce = () => {
    let s = 0;
    for (let i = 0; i < z.data.length; i++) s += Math.max(z.data[i], 0) - z.data[i] * t.data[i] + Math.log1p(Math.exp(-Math.abs(z.data[i])));
    return s / z.data.length;
  };
  const dice = () => {
    const n = z.dims[0];
    const per = z.data.length / n;
    let total = 0;
    for (let b = 0; b < n; b++) {
      let inter = 0;
      let sp = 0;
      let st = 0;
      for (let i = b * per; i < (b + 1) * per; i++) {
        const p = sig(z.data[i]);
        inter += p * t.data[i];
        sp += p;
        st += t.data[i];
      }
      total += (2 * inter + DICE_SMOOTH) / (sp + st + DICE_SMOOTH);
    }
    return 1 - total / n;
  };
  switch (loss) {
    case 'softmax-cross-entropy': {
      const p = softmax(z, 1);
      let s = 0;
      for (let i = 0; i < z.data.length; i++) s -= t.data[i] * Math.log(p.data[i]);
      return s / z.dims[0];
    }
    case 'sigmoid-bce': return bce();
    case 'soft-dice': return dice();
    case 'bce-dice': return bce() + dice();
  }
}
