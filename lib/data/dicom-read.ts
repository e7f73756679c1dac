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

/** Window applied straight to one frame's stored values: one pass, no modality array in between. */
export function windowedFrame(img: DecodedImage, frame: number, window: { center: number; width: number }, out: Float32Array): Float32Array {
  const per = img.rows * img.columns;
  const stored = img.stored!.subarray(frame * per, (frame + 1) * per);
  const span = Math.max(window.width - 1, 1e-6);
  const lo = window.center - 0.5 - (window.width - 1) / 2;
  // v = (stored * slope + intercept - lo) / span, inverted for MONOCHROME1
  let a = img.rescaleSlope / span;
  let b = (img.rescaleIntercept - lo) / span;
  if (img.photometric === 'MONOCHROME1') {
    a = -a;
    b = 1 - b;
  }
  for (let i = 0; i < per; i++) {
    const v = stored[i] * a + b;
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
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

