// In-memory synthetic lesion images for the training engine's tests and benchmarks: noisy
// CT-like slices with a brighter round lesion (or none), its label and its mask. The site-data
// generator writes real DICOM; this one needs no files.
import { Random } from '../util/random.js';

export interface ArrayDataset {
  /** N x 1 x size x size, float32, roughly zero-mean unit-variance */
  images: Float32Array;
  imageShape: [number, number, number];
  /** classification: 0/1 per sample */
  labels: Float32Array;
  /** segmentation: N x 1 x size x size, 0/1 */
  masks: Float32Array;
  count: number;
}

export interface LesionTaskOptions {
  count: number;
  size: number;
  seed: number;
  /** probability that an image holds a lesion */
  prevalence?: number;
  noise?: number;
  /** lesion intensity above background, as a range */
  contrast?: [number, number];
  /** lesion radius as a fraction of the image size */
  radius?: [number, number];
}

export function makeLesionDataset(o: LesionTaskOptions): ArrayDataset {
  const rng = new Random(o.seed);
  const { count, size } = o;
  const prevalence = o.prevalence ?? 0.5;
  const noise = o.noise ?? 0.6;
  const [cLo, cHi] = o.contrast ?? [0.8, 1.6];
  const [rLo, rHi] = o.radius ?? [0.06, 0.16];
  const pixels = size * size;
  const images = new Float32Array(count * pixels);
  const masks = new Float32Array(count * pixels);
  const labels = new Float32Array(count);
  for (let n = 0; n < count; n++) {
    const img = images.subarray(n * pixels, (n + 1) * pixels);
    const mask = masks.subarray(n * pixels, (n + 1) * pixels);
    // A smooth background gradient, as from a scanner's uneven field, plus noise.
    const gx = rng.uniform(-0.5, 0.5);
    const gy = rng.uniform(-0.5, 0.5);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) img[y * size + x] = gx * (x / size - 0.5) + gy * (y / size - 0.5) + noise * rng.normal();
    if (rng.next() < prevalence) {
      labels[n] = 1;
      const r = size * rng.uniform(rLo, rHi);
      const cx = rng.uniform(r, size - r);
      const cy = rng.uniform(r, size - r);
      const c = rng.uniform(cLo, cHi);
      for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++) for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++) {
        if (x < 0 || y < 0 || x >= size || y >= size) continue;
        const d2 = ((x - cx) ** 2 + (y - cy) ** 2) / (r * r);
        if (d2 <= 1) {
          img[y * size + x] += c * (1 - 0.3 * d2);
          mask[y * size + x] = 1;
        }
      }
    }
  }
  return { images, imageShape: [1, size, size], labels, masks, count };
}
