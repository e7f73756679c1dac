// Builders of DICOM test files: a valid slice with chosen encoding, and byte-level corruptions.
import { encodeDicomImage, type DicomImageSpec, SOP_CLASS } from '../../lib/data/dicom-write.js';

let counter = 0;
export function uid(): string {
  counter++;
  return `2.25.${1000000 + counter}${Date.now() % 100000}`;
}

export function sliceSpec(pixels: DicomImageSpec['pixels'], rows: number, columns: number, extra: Partial<DicomImageSpec> = {}): DicomImageSpec {
  return {
    rows, columns, pixels, modality: 'CT', sopClassUid: SOP_CLASS.ct, sopInstanceUid: uid(), studyInstanceUid: uid(), seriesInstanceUid: uid(),
    patientId: 'TEST-1', patientName: 'Test^Corpus', rescaleSlope: 1, rescaleIntercept: 0, ...extra,
  };
}

export function validSlice(extra: Partial<DicomImageSpec> = {}, size = 16): Uint8Array {
  return encodeDicomImage(sliceSpec(Int16Array.from({ length: size * size }, (_, i) => (i % size) * 10 - 50), size, size, extra));
}

/** Replaces an ASCII string inside the file (same length), e.g. a transfer syntax UID. */
export function patchAscii(bytes: Uint8Array, from: string, to: string): Uint8Array {
  if (from.length !== to.length) throw new Error('patchAscii needs equal lengths');
  const out = bytes.slice();
  const needle = new TextEncoder().encode(from);
  for (let i = 0; i + needle.length <= out.length; i++) {
    if (needle.every((b, j) => out[i + j] === b)) {
      out.set(new TextEncoder().encode(to), i);
      return out;
    }
  }
  throw new Error(`'${from}' not found`);
}
