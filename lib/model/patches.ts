// Patch-based training data for the 3D models, pure functions: per-volume, per-channel intensity
// normalisation (z-score over the body, or CT windowing), label maps to nested region targets,
// random patches with foreground oversampling, and flips and small intensity shifts. Every random
// choice comes from a Random seeded per run, round and site (patchSeed), so a rerun is identical.
//
// Layout: a volume's voxels are i fastest, then j, then k, then channel (lib/data/volume.ts), which
// is exactly the model's row-major [C, D, H, W] with D = k, H = j, W = i.
import { InvalidSpecError } from '../errors.js';
import { Random } from '../util/random.js';

export interface PatchVolume {
  /** [channels, k, j, i] voxels */
  data: Float32Array;
  /** voxels along i, j, k */
  size: [number, number, number];
  channels: number;
  /** integer label map on the same grid (0 = background), [k, j, i] */
  labels?: ArrayLike<number>;
}

export type Normalization = { kind: 'zscore' } | { kind: 'window'; center: number; width: number } | { kind: 'none' };

/** Nested regions as label sets; BraTS-style: whole tumour (core + edema), tumour core. */
export const TUMOUR_REGIONS: readonly number[][] = [[1, 2], [1]];

/**
 * Normalises each channel of a volume. z-score: mean and standard deviation over the body, the
 * voxels where any channel is above its minimum (MR background is the darkest value); background
 * voxels become 0 after the shift only when they were at the mean, so they are set to the body's
 * minimum z. window: CT's level/width mapped to [0, 1] and clipped.
 */
export function normalizeVolume(v: PatchVolume, n: Normalization): Float32Array {
  const per = v.size[0] * v.size[1] * v.size[2];
  const out = new Float32Array(v.data.length);
  if (n.kind === 'none') {
    out.set(v.data);
    return out;
  }
  if (n.kind === 'window') {
    if (!(n.width > 0)) throw new InvalidSpecError(`CT window width must be positive; got ${n.width}`, { width: n.width });
    const lo = n.center - n.width / 2;
    for (let i = 0; i < v.data.length; i++) out[i] = Math.min(1, Math.max(0, (v.data[i] - lo) / n.width));
    return out;
  }
  const body = new Uint8Array(per);
  for (let c = 0; c < v.channels; c++) {
    let min = Infinity;
    for (let i = 0; i < per; i++) min = Math.min(min, v.data[c * per + i]);
    for (let i = 0; i < per; i++) if (v.data[c * per + i] > min) body[i] = 1;
  }
  let count = 0;
  for (let i = 0; i < per; i++) count += body[i];
  if (count < 2) body.fill(1);
  for (let c = 0; c < v.channels; c++) {
    let s = 0;
    let n2 = 0;
    for (let i = 0; i < per; i++) if (body[i]) { s += v.data[c * per + i]; n2++; }
    const mean = s / n2;
    let ss = 0;
    for (let i = 0; i < per; i++) if (body[i]) ss += (v.data[c * per + i] - mean) ** 2;
    const sd = Math.sqrt(ss / n2) || 1;
    let zmin = Infinity;
    for (let i = 0; i < per; i++) if (body[i]) zmin = Math.min(zmin, (v.data[c * per + i] - mean) / sd);
    for (let i = 0; i < per; i++) out[c * per + i] = body[i] ? (v.data[c * per + i] - mean) / sd : zmin;
  }
  return out;
}

/** One 0/1 channel per region: [regions, k, j, i]. */
export function regionTargets(labels: ArrayLike<number>, regions: readonly number[][]): Float32Array {
  const per = labels.length;
  const out = new Float32Array(regions.length * per);
  regions.forEach((set, r) => {
    const s = new Set(set);
    for (let i = 0; i < per; i++) if (s.has(labels[i])) out[r * per + i] = 1;
  });
  return out;
}

/** FNV-1a of "seed/round/site": one patch stream per run, round and site. */
export function patchSeed(runSeed: number, round: number, site: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${runSeed}/${round}/${site}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** Copies a cube of edge p starting at (k0, j0, i0) out of [channels, K, J, I]; outside is `fill`. */
export function cropCube(data: ArrayLike<number>, channels: number, size: [number, number, number], origin: [number, number, number], p: number, fill = 0): Float32Array {
  const [I, J, K] = size;
  const [k0, j0, i0] = origin;
  const out = new Float32Array(channels * p ** 3).fill(fill);
  for (let c = 0; c < channels; c++) for (let dk = 0; dk < p; dk++) {
    const k = k0 + dk;
    if (k < 0 || k >= K) continue;
    for (let dj = 0; dj < p; dj++) {
      const j = j0 + dj;
      if (j < 0 || j >= J) continue;
      for (let di = 0; di < p; di++) {
        const i = i0 + di;
        if (i < 0 || i >= I) continue;
        out[((c * p + dk) * p + dj) * p + di] = data[((c * K + k) * J + j) * I + i];
      }
    }
  }
  return out;
}

export interface PatchOptions {
  /** cubic patch edge in voxels */
  patch: number;
  /** fraction of patches centred on a random foreground voxel (label > 0), 0-1 */
  foregroundFraction: number;
  regions: readonly number[][];
  /** mirror along each axis with probability 1/2 */
  flips: boolean;
  /** per patch and channel: x * (1 + U(-scale, scale)) + U(-shift, shift) */
  intensityShift: number;
  intensityScale: number;
}

export const DEFAULT_PATCH_OPTIONS: Omit<PatchOptions, 'patch'> = { foregroundFraction: 0.5, regions: TUMOUR_REGIONS, flips: true, intensityShift: 0.1, intensityScale: 0.1 };

export interface PatchBatch {
  /** [n, channels, p, p, p] */
  images: Float32Array;
  /** [n, regions, p, p, p] */
  targets: Float32Array;
  /** origin (k, j, i) of each patch and whether it was drawn on the foreground */
  origins: Array<{ volume: number; origin: [number, number, number]; foreground: boolean }>;
}

/** Volumes prepared once: normalised images, region targets, foreground voxel indices. */
export interface PreparedVolume {
  image: Float32Array;
  target: Float32Array;
  size: [number, number, number];
  channels: number;
  foreground: Int32Array;
}

export function prepareVolume(v: PatchVolume, n: Normalization, regions: readonly number[][]): PreparedVolume {
  const per = v.size[0] * v.size[1] * v.size[2];
  if (v.data.length !== per * v.channels) throw new InvalidSpecError(`volume data has ${v.data.length} voxels; size ${v.size.join('x')} with ${v.channels} channel(s) needs ${per * v.channels}`, { size: v.size });
  const labels = v.labels ?? new Uint8Array(per);
  if (labels.length !== per) throw new InvalidSpecError(`label map has ${labels.length} voxels; the image grid ${v.size.join('x')} has ${per}`, { size: v.size });
  const fg: number[] = [];
  for (let i = 0; i < per; i++) if (labels[i] > 0) fg.push(i);
  return { image: normalizeVolume(v, n), target: regionTargets(labels, regions), size: v.size, channels: v.channels, foreground: Int32Array.from(fg) };
}

function flipAxis(x: Float32Array, channels: number, p: number, axis: 0 | 1 | 2): void {
  const idx = (c: number, a: number, b: number, d: number) => ((c * p + a) * p + b) * p + d;
  for (let c = 0; c < channels; c++) for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) for (let d = 0; d < p / 2; d++) {
    const [u, w] = axis === 0 ? [idx(c, d, a, b), idx(c, p - 1 - d, a, b)] : axis === 1 ? [idx(c, a, d, b), idx(c, a, p - 1 - d, b)] : [idx(c, a, b, d), idx(c, a, b, p - 1 - d)];
    const t = x[u];
    x[u] = x[w];
    x[w] = t;
  }
}

/** `count` patches from the volumes, drawn with `rng`: same seed, same patches. */
export function samplePatches(volumes: readonly PreparedVolume[], count: number, rng: Random, o: PatchOptions): PatchBatch {
  if (volumes.length === 0) throw new InvalidSpecError('no volumes to draw patches from', {});
  if (!(o.foregroundFraction >= 0 && o.foregroundFraction <= 1)) throw new InvalidSpecError(`foregroundFraction must be within 0-1; got ${o.foregroundFraction}`, { foregroundFraction: o.foregroundFraction });
  const p = o.patch;
  const channels = volumes[0].channels;
  const r = o.regions.length;
  const images = new Float32Array(count * channels * p ** 3);
  const targets = new Float32Array(count * r * p ** 3);
  const origins: PatchBatch['origins'] = [];
  for (let s = 0; s < count; s++) {
    const vi = rng.int(0, volumes.length);
    const v = volumes[vi];
    if (v.channels !== channels) throw new InvalidSpecError(`volume ${vi} has ${v.channels} channel(s), volume 0 has ${channels}: a site's volumes must share their channels`, { volume: vi });
    const [I, J, K] = v.size;
    const wantFg = rng.next() < o.foregroundFraction && v.foreground.length > 0;
    let origin: [number, number, number];
    if (wantFg) {
      const at = v.foreground[rng.int(0, v.foreground.length)];
      const ci = at % I;
      const cj = Math.floor(at / I) % J;
      const ck = Math.floor(at / (I * J));
      // centre on the voxel, with a jitter of a quarter patch so the lesion is not always central
      const jit = () => rng.int(-Math.floor(p / 4), Math.floor(p / 4) + 1);
      const clamp = (c: number, n: number) => (n <= p ? Math.floor((n - p) / 2) : Math.min(n - p, Math.max(0, c - Math.floor(p / 2) + jit())));
      origin = [clamp(ck, K), clamp(cj, J), clamp(ci, I)];
    } else {
      const pick = (n: number) => (n <= p ? Math.floor((n - p) / 2) : rng.int(0, n - p + 1));
      origin = [pick(K), pick(J), pick(I)];
    }
    const img = cropCube(v.image, channels, v.size, origin, p);
    const tgt = cropCube(v.target, r, v.size, origin, p);
    if (o.flips) for (const axis of [0, 1, 2] as const) if (rng.next() < 0.5) {
      flipAxis(img, channels, p, axis);
      flipAxis(tgt, r, p, axis);
    }
    for (let c = 0; c < channels; c++) {
      const scale = 1 + rng.uniform(-o.intensityScale, o.intensityScale);
      const shift = rng.uniform(-o.intensityShift, o.intensityShift);
      for (let i = c * p ** 3; i < (c + 1) * p ** 3; i++) img[i] = img[i] * scale + shift;
    }
    images.set(img, s * channels * p ** 3);
    targets.set(tgt, s * r * p ** 3);
    origins.push({ volume: vi, origin, foreground: wantFg });
  }
  return { images, targets, origins };
}
