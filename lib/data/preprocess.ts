// Image preprocessing between a decoded slice and a model input: window to [0, 1] (inverted for
// MONOCHROME1), then resample to the model's square input size (area averaging when shrinking,
// bilinear when enlarging). Masks are resampled with the same geometry and thresholded at 0.5.

export interface Window {
  center: number;
  width: number;
}

/** DICOM's linear window (PS3.3 C.11.2.1.2): center/width in modality units to [0, 1]. */
export function applyWindow(values: ArrayLike<number>, window: Window, invert: boolean, out = new Float32Array(values.length)): Float32Array {
  const lo = window.center - 0.5 - (window.width - 1) / 2;
  const span = Math.max(window.width - 1, 1e-6);
  for (let i = 0; i < values.length; i++) {
    let v = (values[i] - lo) / span;
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    out[i] = invert ? 1 - v : v;
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

/** Weights of source pixels for each destination pixel along one axis. */
function axisWeights(src: number, dst: number): Array<Array<[number, number]>> {
  const scale = src / dst;
  const rows: Array<Array<[number, number]>> = [];
  for (let d = 0; d < dst; d++) {
    const row: Array<[number, number]> = [];
    if (scale > 1) {
      // area: integrate the source over [d*scale, (d+1)*scale)
      const a = d * scale;
      const b = a + scale;
      for (let s = Math.floor(a); s < Math.ceil(b) && s < src; s++) {
        const w = Math.min(b, s + 1) - Math.max(a, s);
        if (w > 0) row.push([s, w / scale]);
      }
    } else {
      // bilinear with pixel centres aligned
      const x = Math.min(Math.max((d + 0.5) * scale - 0.5, 0), src - 1);
      const s0 = Math.floor(x);
      const s1 = Math.min(s0 + 1, src - 1);
      const f = x - s0;
      row.push([s0, 1 - f]);
      if (f > 0) row.push([s1, f]);
    }
    rows.push(row);
  }
  return rows;
}

const weightCache = new Map<string, Array<Array<[number, number]>>>();
function cachedWeights(src: number, dst: number) {
  const key = `${src}:${dst}`;
  let w = weightCache.get(key);
  if (!w) {
    w = axisWeights(src, dst);
    weightCache.set(key, w);
  }
  return w;
}

/** Separable resampling of one rows x columns image to size x size. */
export function resample(src: ArrayLike<number>, rows: number, columns: number, size: number, out = new Float32Array(size * size)): Float32Array {
  const wy = cachedWeights(rows, size);
  const wx = cachedWeights(columns, size);
  const tmp = new Float32Array(rows * size);
  for (let r = 0; r < rows; r++) {
    const base = r * columns;
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (const [s, w] of wx[x]) acc += src[base + s] * w;
      tmp[r * size + x] = acc;
    }
  }
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (const [s, w] of wy[y]) acc += tmp[s * size + x] * w;
      out[y * size + x] = acc;
    }
  }
  return out;
}

export function resampleMask(src: ArrayLike<number>, rows: number, columns: number, size: number): Float32Array {
  const out = resample(src, rows, columns, size);
  for (let i = 0; i < out.length; i++) out[i] = out[i] >= 0.5 ? 1 : 0;
  return out;
}
