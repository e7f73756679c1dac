// A fast path for the commonest JPEG lossless stream (ITU T.81 process 14: one component, Huffman,
// predictors 1-7, point transform, no restart intervals): 16-bit lookahead Huffman
// tables and a 32-bit bit buffer. jpeg-lossless-decoder-js, the maintained JS decoder, reads these
// 3-5x slower (per-sample closures); it remains the decoder for every other stream (colour,
// interleaved, restart intervals), so this file only has to be right where it says yes.

export interface LosslessFrame {
  width: number;
  height: number;
  precision: number;
  /** samples as unsigned values of `precision` bits (shifted left by the point transform) */
  samples: Uint16Array;
}

interface Huffman {
  /** (code length << 8) | value, indexed by the next 16 bits */
  lookup: Uint32Array;
}

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const lookup = new Uint32Array(65536);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < counts[len - 1]; i++) {
      const shift = 16 - len;
      const start = code << shift;
      const entry = (len << 8) | values[k++];
      lookup.fill(entry, start, start + (1 << shift));
      code++;
    }
    code <<= 1;
  }
  return { lookup };
}

/** Decodes the stream, or returns undefined when it is not the form this fast path reads. */
export function decodeLosslessFast(data: Uint8Array): LosslessFrame | undefined {
  if (data[0] !== 0xff || data[1] !== 0xd8) return undefined;
  const tables: Array<Huffman | undefined> = [];
  let pos = 2;
  let width = 0;
  let height = 0;
  let precision = 0;
  let restart = 0;
  let componentId = -1;
  for (;;) {
    if (pos + 4 > data.length) return undefined;
    if (data[pos] !== 0xff) return undefined;
    const marker = data[pos + 1];
    if (marker === 0xff) {
      pos++;
      continue;
    }
    const length = (data[pos + 2] << 8) | data[pos + 3];
    const seg = pos + 4;
    const end = pos + 2 + length;
    if (end > data.length) return undefined;
    if (marker === 0xc4) {
      let p = seg;
      while (p < end) {
        const th = data[p] & 0x0f;
        const counts = data.subarray(p + 1, p + 17);
        const total = counts.reduce((a, b) => a + b, 0);
        tables[th] = buildHuffman(counts, data.subarray(p + 17, p + 17 + total));
        p += 17 + total;
      }
    } else if (marker === 0xc3) {
      precision = data[seg];
      height = (data[seg + 1] << 8) | data[seg + 2];
      width = (data[seg + 3] << 8) | data[seg + 4];
      if (data[seg + 5] !== 1) return undefined; // one component only
      componentId = data[seg + 6];
    } else if (marker === 0xdd) {
      restart = (data[seg] << 8) | data[seg + 1];
    } else if (marker === 0xda) {
      if (data[seg] !== 1 || data[seg + 1] !== componentId) return undefined;
      const table = tables[data[seg + 2] >> 4];
      const predictor = data[seg + 3];
      const pt = data[seg + 5] & 0x0f;
      if (!table || predictor < 1 || predictor > 7 || !width || !height || precision < 2 || precision > 16) return undefined;
      if (restart) return undefined;
      return decodeScan(data, end, table, width, height, precision, predictor, pt);
    } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return undefined; // another process (DCT, arithmetic, hierarchical)
    }
    pos = end;
  }
}

function decodeScan(data: Uint8Array, start: number, table: Huffman, width: number, height: number, precision: number, predictor: number, pt: number): LosslessFrame | undefined {
  const lookup = table.lookup;
  const out = new Uint16Array(width * height);
  const mask = (1 << precision) - 1; // modulo 2^16 arithmetic, then the sample's own precision
  const initial = 1 << (precision - pt - 1);
  let pos = start;
  let acc = 0;
  let bits = 0;
  let marker = false;
  const fill = () => {
    while (bits <= 24) {
      let byte = 0;
      if (!marker && pos < data.length) {
        byte = data[pos];
        if (byte === 0xff) {
          const next = data[pos + 1];
          if (next === 0) pos += 2;
          else {
            marker = true;
            byte = 0;
          }
        } else pos++;
      }
      acc = ((acc << 8) | byte) >>> 0;
      bits += 8;
    }
  };
  const raw = new Int32Array(width * 2); // this row and the one above, before the point transform
  for (let y = 0; y < height; y++) {
    const first = y === 0;
    const cur = (y & 1) * width;
    const prev = width - cur;
    for (let x = 0; x < width; x++) {
      if (bits < 16) fill();
      const entry = lookup[(acc >>> (bits - 16)) & 0xffff];
      const len = entry >> 8;
      if (len === 0) return undefined; // not a code of this table
      bits -= len;
      const t = entry & 0xff;
      let diff = 0;
      if (t === 16) diff = 32768;
      else if (t > 0) {
        if (bits < t) fill();
        const v = (acc >>> (bits - t)) & ((1 << t) - 1);
        bits -= t;
        diff = v < 1 << (t - 1) ? v - (1 << t) + 1 : v;
      }
      let px: number;
      if (first) px = x === 0 ? initial : raw[cur + x - 1];
      else if (x === 0) px = raw[prev];
      else {
        const ra = raw[cur + x - 1];
        const rb = raw[prev + x];
        const rc = raw[prev + x - 1];
        switch (predictor) {
          case 1: px = ra; break;
          case 2: px = rb; break;
          case 3: px = rc; break;
          case 4: px = ra + rb - rc; break;
          case 5: px = ra + ((rb - rc) >> 1); break;
          case 6: px = rb + ((ra - rc) >> 1); break;
          default: px = (ra + rb) >> 1;
        }
      }
      const value = (px + diff) & 0xffff;
      raw[cur + x] = value;
      out[y * width + x] = (value << pt) & mask;
    }
  }
  return { width, height, precision, samples: out };
}
