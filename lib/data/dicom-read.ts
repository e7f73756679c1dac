// Stored pixel values to model input: rescale (modality values) and window, in one pass when
// asked. Parsing and decoding of every transfer syntax live in dicom/; this module re-exports them
// for the callers that read one image at a time.
import type { DecodedImage } from './dicom/image.js';

export { type DecodedImage, decodeDicomImage, NotAnImageError, type StoredPixels } from './dicom/image.js';
export { loadCodecs } from './dicom/codecs.js';
export { transferSyntaxName } from './dicom/transfer-syntax.js';

/** Modality values (stored x RescaleSlope + RescaleIntercept) of every pixel. */
export function modalityValues(img: DecodedImage): Float32Array {
  const stored = img.stored!;
  const out = new Float32Array(stored.length);
  for (let i = 0; i < stored.length; i++) out[i] = stored[i] * img.rescaleSlope + img.rescaleIntercept;
  return out;
}

/** v = stored * a + b maps a stored value to [0, 1] under the window (before clamping), inverted for MONOCHROME1. */
function windowCoefficients(img: DecodedImage, window: { center: number; width: number }): [number, number] {
  const span = Math.max(window.width - 1, 1e-6);
  const lo = window.center - 0.5 - (window.width - 1) / 2;
  const a = img.rescaleSlope / span;
  const b = (img.rescaleIntercept - lo) / span;
  return img.photometric === 'MONOCHROME1' ? [-a, 1 - b] : [a, b];
}

/** Window applied straight to one frame's stored values: one pass, no modality array in between. */
export function windowedFrame(img: DecodedImage, frame: number, window: { center: number; width: number }, out: Float32Array): Float32Array {
  const per = img.rows * img.columns;
  const stored = img.stored!.subarray(frame * per, (frame + 1) * per);
  const [a, b] = windowCoefficients(img, window);
  for (let i = 0; i < per; i++) {
    const v = stored[i] * a + b;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return out;
}

/**
 * Window, then shrink by an integer factor in both axes by block averaging, in one pass: the
 * 512 -> 64 case without a full-size float image in between. Each windowed value is rounded to
 * float32 as windowedFrame stores it, so the result equals windowedFrame + resample bit for bit.
 * Returns undefined when the size is not an integer fraction of the frame's.
 */
export function windowedShrink(img: DecodedImage, frame: number, window: { center: number; width: number }, size: number, out: Float32Array): Float32Array | undefined {
  const { rows, columns } = img;
  if (rows % size !== 0 || columns % size !== 0) return undefined;
  const per = rows * columns;
  const stored = img.stored!.subarray(frame * per, (frame + 1) * per);
  const [a, b] = windowCoefficients(img, window);
  const fy = rows / size;
  const fx = columns / size;
  out.fill(0);
  let p = 0;
  for (let r = 0; r < rows; r++) {
    const dstRow = Math.floor(r / fy) * size;
    for (let x = 0; x < size; x++) {
      let acc = 0;
      for (let k = 0; k < fx; k++) {
        const v = stored[p++] * a + b;
        acc += Math.fround(v < 0 ? 0 : v > 1 ? 1 : v);
      }
      out[dstRow + x] += acc;
    }
  }
  const norm = 1 / (fx * fy);
  for (let i = 0; i < out.length; i++) out[i] *= norm;
  return out;
}

/** The frame's value range as a window (for files with neither manifest nor tag window). */
export function rangeWindowOf(img: DecodedImage, frame: number): { center: number; width: number } {
  const per = img.rows * img.columns;
  const stored = img.stored!.subarray(frame * per, (frame + 1) * per);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < per; i++) {
    if (stored[i] < lo) lo = stored[i];
    if (stored[i] > hi) hi = stored[i];
  }
  const [a, b] = [lo * img.rescaleSlope + img.rescaleIntercept, hi * img.rescaleSlope + img.rescaleIntercept].sort((x, y) => x - y);
  return { center: (a + b) / 2, width: Math.max(b - a, 1) };
}

