// RLE Lossless encoding (PS3.5 Annex G) for the synthetic generator: one segment per byte plane
// (most significant first), each row PackBits-coded on its own, as the standard asks.

function packRow(src: Uint8Array, out: number[]): void {
  const n = src.length;
  let i = 0;
  while (i < n) {
    let run = 1;
    while (i + run < n && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 2) {
      out.push(257 - run, src[i]);
      i += run;
      continue;
    }
    const start = i;
    while (i < n && i - start < 128 && !(i + 1 < n && src[i] === src[i + 1])) i++;
    out.push(i - start - 1);
    for (let k = start; k < i; k++) out.push(src[k]);
  }
}

/** One frame (rows x columns samples of 1 or 2 bytes, native little-endian) as an RLE fragment. */
export function encodeRle(frame: Uint8Array, rows: number, columns: number, bytesPerSample: 1 | 2): Uint8Array {
  const segments: number[][] = [];
  for (let s = 0; s < bytesPerSample; s++) {
    const byte = bytesPerSample - 1 - s; // most significant byte first
    const out: number[] = [];
    const row = new Uint8Array(columns);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) row[c] = frame[(r * columns + c) * bytesPerSample + byte];
      packRow(row, out);
    }
    if (out.length % 2) out.push(0);
    segments.push(out);
  }
  const total = 64 + segments.reduce((a, s) => a + s.length, 0);
  const result = new Uint8Array(total);
  const view = new DataView(result.buffer);
  view.setUint32(0, segments.length, true);
  let offset = 64;
  segments.forEach((s, i) => {
    view.setUint32(4 + 4 * i, offset, true);
    result.set(s, offset);
    offset += s.length;
  });
  return result;
}
