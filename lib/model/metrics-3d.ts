// Full-volume segmentation metrics per region: Dice, and the 95th percentile Hausdorff distance in
// millimetres (HD95, as medpy and MONAI compute it: surface voxels of both masks, distances from
// each surface to the other, the 95th percentile of both directions pooled). Distances come from an
// exact Euclidean distance transform with anisotropic spacing (Felzenszwalb and Huttenlocher, 2012),
// so a 128^3 volume costs a few passes, not surface x surface pairs.

export interface RegionMetrics {
  dice: number;
  /** mm; null when either mask is empty (undefined distance) */
  hd95: number | null;
  predicted: number;
  actual: number;
}

export function dice(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  let inter = 0;
  let sp = 0;
  let st = 0;
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i] ? 1 : 0;
    const b = truth[i] ? 1 : 0;
    inter += a & b;
    sp += a;
    st += b;
  }
  return sp + st === 0 ? 1 : (2 * inter) / (sp + st);
}

/** 1D squared-distance transform of f (0 at sites, Infinity elsewhere) with sample spacing h (mm). */
function edt1d(f: Float64Array, n: number, h: number, out: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = -1;
  for (let q = 0; q < n; q++) {
    if (f[q] === Infinity) continue;
    let s = -Infinity;
    while (k >= 0) {
      const r = v[k];
      // where the parabolas rooted at r and q meet, in mm
      s = (f[q] + (q * h) ** 2 - (f[r] + (r * h) ** 2)) / (2 * (q - r) * h);
      if (s <= z[k]) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = k === 0 ? -Infinity : s;
    z[k + 1] = Infinity;
  }
  if (k < 0) {
    out.fill(Infinity, 0, n);
    return;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q * h) k++;
    out[q] = ((q - v[k]) * h) ** 2 + f[v[k]];
  }
}

/** Squared Euclidean distance (mm^2) from every voxel to the nearest voxel where `sites` is set. */
export function distanceTransform(sites: ArrayLike<number>, size: [number, number, number], spacing: [number, number, number]): Float64Array {
  const [I, J, K] = size;
  const d = new Float64Array(I * J * K);
  for (let i = 0; i < d.length; i++) d[i] = sites[i] ? 0 : Infinity;
  const n = Math.max(I, J, K);
  const f = new Float64Array(n);
  const out = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const pass = (len: number, h: number, index: (t: number, a: number, b: number) => number, A: number, B: number) => {
    for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) {
      for (let t = 0; t < len; t++) f[t] = d[index(t, a, b)];
      edt1d(f, len, h, out, v, z);
      for (let t = 0; t < len; t++) d[index(t, a, b)] = out[t];
    }
  };
  pass(I, spacing[0], (t, j, k) => (k * J + j) * I + t, J, K);
  pass(J, spacing[1], (t, i, k) => (k * J + t) * I + i, I, K);
  pass(K, spacing[2], (t, i, j) => (t * J + j) * I + i, I, J);
  return d;
}

/** Mask voxels with a 6-neighbour outside the mask (the volume's border counts as outside). */
export function surface(mask: ArrayLike<number>, size: [number, number, number]): Uint8Array {
  const [I, J, K] = size;
  const out = new Uint8Array(I * J * K);
  const at = (i: number, j: number, k: number) => i >= 0 && j >= 0 && k >= 0 && i < I && j < J && k < K && mask[(k * J + j) * I + i];
  for (let k = 0; k < K; k++) for (let j = 0; j < J; j++) for (let i = 0; i < I; i++) {
    if (!mask[(k * J + j) * I + i]) continue;
    if (!at(i - 1, j, k) || !at(i + 1, j, k) || !at(i, j - 1, k) || !at(i, j + 1, k) || !at(i, j, k - 1) || !at(i, j, k + 1)) out[(k * J + j) * I + i] = 1;
  }
  return out;
}

/** Linear-interpolated percentile (numpy's default), q in [0, 100]. */
export function percentile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = ((s.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  return lo + 1 < s.length ? s[lo] + (s[lo + 1] - s[lo]) * (pos - lo) : s[lo];
}

export function hd95(pred: ArrayLike<number>, truth: ArrayLike<number>, size: [number, number, number], spacing: [number, number, number]): number | null {
  const sp = surface(pred, size);
  const st = surface(truth, size);
  if (!sp.some((x) => x) || !st.some((x) => x)) return null;
  const toTruth = distanceTransform(st, size, spacing);
  const toPred = distanceTransform(sp, size, spacing);
  const all: number[] = [];
  for (let v = 0; v < sp.length; v++) {
    if (sp[v]) all.push(Math.sqrt(toTruth[v]));
    if (st[v]) all.push(Math.sqrt(toPred[v]));
  }
  return percentile(all, 95);
}

/** Per region: probabilities [regions, k, j, i] thresholded at 0.5 against 0/1 targets of the same layout. */
export function volumeMetrics(probs: Float32Array, targets: Float32Array, regions: number, size: [number, number, number], spacing: [number, number, number]): RegionMetrics[] {
  const per = size[0] * size[1] * size[2];
  return Array.from({ length: regions }, (_, r) => {
    const pred = new Uint8Array(per);
    const truth = new Uint8Array(per);
    let predicted = 0;
    let actual = 0;
    for (let v = 0; v < per; v++) {
      pred[v] = probs[r * per + v] >= 0.5 ? 1 : 0;
      truth[v] = targets[r * per + v] >= 0.5 ? 1 : 0;
      predicted += pred[v];
      actual += truth[v];
    }
    return { dice: dice(pred, truth), hd95: hd95(pred, truth, size, spacing), predicted, actual };
  });
}
