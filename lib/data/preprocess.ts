// Image preprocessing between a decoded slice and a model input: window to [0, 1] (inverted for
// MONOCHROME1), then resample to the model's square input size (area averaging when shrinking,
// bilinear when enlarging). Masks are resampled with the same geometry and thresholded at 0.5.

export interface Window {
  center: number;
  width: number;
}

/** DICOM's linear window (PS3.3 C.11.2.1.2): center/width in modality units to [0, 1]. */
export function applyWindow(values: Float32Array | number[], window: Window, invert: boolean, out = new Float32Array(values.length)): Float32Array {
  const lo = window.center - 0.5 - (window.width - 1) / 2;
  // v = clamp((x - lo) / span) or its inverse, as one multiply-add per pixel
  const scale = (invert ? -1 : 1) / Math.max(window.width - 1, 1e-6);
  const offset = invert ? 1 + lo / Math.max(window.width - 1, 1e-6) : -lo / Math.max(window.width - 1, 1e-6);
  const src = values instanceof Float32Array ? values : Float32Array.from(values);
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const v = src[i] * scale + offset;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

/** Window from the value range, for files without window tags or manifest window. */
export function rangeWindow(values: ArrayLike<number>): Window {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  return { center: (lo + hi) / 2, width: Math.max(hi - lo, 1) };
}

/** Sparse weights of source pixels for each destination pixel along one axis, flattened. */
interface AxisWeights {
  start: Int32Array; // first entry of destination d in index/weight
  index: Int32Array;
  weight: Float32Array;
}

function axisWeights(src: number, dst: number): AxisWeights {
  const scale = src / dst;
  const index: number[] = [];
  const weight: number[] = [];
  const start = new Int32Array(dst + 1);
  for (let d = 0; d < dst; d++) {
    start[d] = index.length;
    if (scale > 1) {
      // area: integrate the source over [d*scale, (d+1)*scale)
      const a = d * scale;
      const b = a + scale;
      for (let s = Math.floor(a); s < Math.ceil(b) && s < src; s++) {
        const w = Math.min(b, s + 1) - Math.max(a, s);
        if (w > 0) {
          index.push(s);
          weight.push(w / scale);
        }
      }
    } else {
      // bilinear with pixel centres aligned
      const x = Math.min(Math.max((d + 0.5) * scale - 0.5, 0), src - 1);
      const s0 = Math.floor(x);
      const f = x - s0;
      index.push(s0);
      weight.push(1 - f);
      if (f > 0) {
        index.push(Math.min(s0 + 1, src - 1));
        weight.push(f);
      }
    }
  }
  start[dst] = index.length;
  return { start, index: Int32Array.from(index), weight: Float32Array.from(weight) };
}

const weightCache = new Map<string, AxisWeights>();
function cachedWeights(src: number, dst: number): AxisWeights {
  const key = `${src}:${dst}`;
  let w = weightCache.get(key);
  if (!w) {
    w = axisWeights(src, dst);
    weightCache.set(key, w);
  }
  return w;
}

/** Area averaging by an integer factor in both axes: plain block sums (the common 512 -> 64 case). */
function blockAverage(src: Float32Array, rows: number, columns: number, size: number, out: Float32Array): Float32Array {
  const fy = rows / size;
  const fx = columns / size;
  const norm = 1 / (fx * fy);
  out.fill(0);
  for (let r = 0; r < rows; r++) {
    const dstRow = Math.floor(r / fy) * size;
    let p = r * columns;
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (let k = 0; k < fx; k++) acc += src[p++];
      out[dstRow + x] += acc;
    }
  }
  for (let i = 0; i < out.length; i++) out[i] *= norm;
  return out;
}

/** Separable resampling of one rows x columns image to size x size. */
export function resample(src: Float32Array, rows: number, columns: number, size: number, out = new Float32Array(size * size)): Float32Array {
  if (rows % size === 0 && columns % size === 0) return blockAverage(src, rows, columns, size, out);
  const wy = cachedWeights(rows, size);
  const wx = cachedWeights(columns, size);
  const tmp = new Float32Array(rows * size);
  for (let r = 0; r < rows; r++) {
    const base = r * columns;
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (let k = wx.start[x]; k < wx.start[x + 1]; k++) acc += src[base + wx.index[k]] * wx.weight[k];
      tmp[r * size + x] = acc;
    }
  }
  out.fill(0);
  for (let y = 0; y < size; y++) {
    const row = y * size;
    for (let k = wy.start[y]; k < wy.start[y + 1]; k++) {
      const srcRow = wy.index[k] * size;
      const w = wy.weight[k];
      for (let x = 0; x < size; x++) out[row + x] += tmp[srcRow + x] * w;
    }
  }
  return out;
}

export function resampleMask(src: Float32Array, rows: number, columns: number, size: number): Float32Array {
  const out = resample(src, rows, columns, size);
  for (let i = 0; i < out.length; i++) out[i] = out[i] >= 0.5 ? 1 : 0;
  return out;
}

/**
 * Per-image standardization: zero mean, unit variance. Removes scanner intensity offsets and gain
 * between sites, whose batch statistics would otherwise differ from the federation's (a known
 * failure of BatchNorm under non-IID federated training).
 */
export function standardize(image: Float32Array): Float32Array {
  let mean = 0;
  for (let i = 0; i < image.length; i++) mean += image[i];
  mean /= image.length;
  let v = 0;
  for (let i = 0; i < image.length; i++) v += (image[i] - mean) ** 2;
  const inv = 1 / Math.sqrt(v / image.length + 1e-6);
  for (let i = 0; i < image.length; i++) image[i] = (image[i] - mean) * inv;
  return image;
}
