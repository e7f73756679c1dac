// NIfTI-1 and NIfTI-2 images and masks (.nii, .nii.gz) with nifti-reader-js, the maintained reader
// the web viewers use; the affine (sform when its code is set, else qform, else pixdim), the
// scaling slope/intercept and every datatype from int8 to float64. 4D files keep their fourth axis
// as channels (time points or components, as the header's intent says). Also a small NIfTI-1
// writer for the synthetic generator and tests (no npm package writes NIfTI).
import { gzipSync } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import { DicomFileError } from '../errors.js';
import { quote } from './dicom/parse.js';
import { type Affine, identityAffine, type Volume } from './volume.js';

export const isNiftiPath = (p: string) => /\.nii(\.gz)?$/i.test(p);

function refuse(file: string, code: 'not-nifti' | 'bad-nifti', why: string, cause?: unknown): never {
  throw new DicomFileError(`${file}: ${why}`, { file, code }, { cause });
}

const DATATYPES: Record<number, { name: string; bytes: number; read: (v: DataView, o: number, le: boolean) => number }> = {
  2: { name: 'uint8', bytes: 1, read: (v, o) => v.getUint8(o) },
  4: { name: 'int16', bytes: 2, read: (v, o, le) => v.getInt16(o, le) },
  8: { name: 'int32', bytes: 4, read: (v, o, le) => v.getInt32(o, le) },
  16: { name: 'float32', bytes: 4, read: (v, o, le) => v.getFloat32(o, le) },
  64: { name: 'float64', bytes: 8, read: (v, o, le) => v.getFloat64(o, le) },
  256: { name: 'int8', bytes: 1, read: (v, o) => v.getInt8(o) },
  512: { name: 'uint16', bytes: 2, read: (v, o, le) => v.getUint16(o, le) },
  768: { name: 'uint32', bytes: 4, read: (v, o, le) => v.getUint32(o, le) },
  1024: { name: 'int64', bytes: 8, read: (v, o, le) => Number(v.getBigInt64(o, le)) },
  1280: { name: 'uint64', bytes: 8, read: (v, o, le) => Number(v.getBigUint64(o, le)) },
};

export interface NiftiImage extends Volume {
  /** 1 or 2 */
  version: number;
  datatype: string;
  /** what the fourth axis holds when channels > 1 */
  fourthAxis?: 'time' | 'components';
  description: string;
}

export function readNifti(input: Uint8Array, file: string): NiftiImage {
  let buffer = input.buffer.slice(input.byteOffset, input.byteOffset + input.byteLength) as ArrayBuffer;
  if (nifti.isCompressed(buffer)) {
    try {
      buffer = nifti.decompress(buffer) as ArrayBuffer;
    } catch (cause) {
      refuse(file, 'bad-nifti', `the gzip stream does not decompress (${quote(cause)}); the file may be truncated`, cause);
    }
  }
  if (!nifti.isNIFTI(buffer)) refuse(file, 'not-nifti', 'not a NIfTI-1 or NIfTI-2 file (no "n+1"/"n+2" magic after a 348- or 540-byte header)');
  let header: nifti.NIFTI1 | nifti.NIFTI2;
  try {
    header = nifti.readHeader(buffer);
  } catch (cause) {
    return refuse(file, 'bad-nifti', `the NIfTI header cannot be read (${quote(cause)})`, cause);
  }
  const version = header instanceof nifti.NIFTI2 ? 2 : 1;
  const intent = header.intent_code;
  if (intent >= 3000 && intent <= 3099) refuse(file, 'not-nifti', `intent code ${intent} marks a CIFTI file (brain surface/grayordinate data), not an image volume`);
  if ([1001, 1002, 1007, 1008, 1009, 1010, 1011, 2001, 2002, 2003, 2004, 2005].includes(intent)) {
    refuse(file, 'not-nifti', `intent code ${intent} marks non-image data (a dataset of vectors, a triangle mesh or a statistic map's parameters); fedrad reads image volumes`);
  }
  const dims = header.dims;
  const rank = dims[0];
  if (rank < 2 || rank > 5) refuse(file, 'bad-nifti', `dim[0] is ${rank}; an image has 2 to 4 dimensions`);
  const size: [number, number, number] = [dims[1], Math.max(dims[2], 1), rank >= 3 ? Math.max(dims[3], 1) : 1];
  const t = rank >= 4 ? Math.max(dims[4], 1) : 1;
  const u = rank >= 5 ? Math.max(dims[5], 1) : 1;
  if (size.some((n) => !Number.isInteger(n) || n < 1)) refuse(file, 'bad-nifti', `dimensions ${dims.slice(1, 4).join(' x ')} are not all positive`);
  const type = DATATYPES[header.datatypeCode];
  if (!type) refuse(file, 'bad-nifti', `datatype ${header.datatypeCode} is not read; int8 to float64 (2, 4, 8, 16, 64, 256, 512, 768, 1024, 1280) are`);
  const channels = t * u;
  const count = size[0] * size[1] * size[2] * channels;
  const offset = Number(header.vox_offset);
  if (buffer.byteLength < offset + count * type.bytes) {
    refuse(file, 'bad-nifti', `the image data has ${Math.max(0, buffer.byteLength - offset)} bytes but ${size.join(' x ')} x ${channels} x ${type.bytes} = ${count * type.bytes} are needed; the file may be truncated`);
  }
  const view = new DataView(buffer, offset, count * type.bytes);
  const slope = header.scl_slope && Number.isFinite(header.scl_slope) ? header.scl_slope : 1;
  const inter = Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
  const data = new Float32Array(count);
  const le = header.littleEndian;
  for (let i = 0; i < count; i++) data[i] = type.read(view, i * type.bytes, le) * slope + inter;
  return {
    data, size, channels, affine: affineOf(header, buffer, version, file), version, datatype: type.name,
    fourthAxis: channels > 1 ? (u > 1 || intent === 1007 ? 'components' : 'time') : undefined,
    description: quote(header.description ?? '', 80),
  };
}

function affineOf(h: nifti.NIFTI1 | nifti.NIFTI2, buffer: ArrayBuffer, version: number, file: string): Affine {
  const view = new DataView(buffer);
  let a: number[][];
  if (h.sform_code > 0) {
    // srow_x, srow_y, srow_z: float32 at 280 (NIfTI-1), float64 at 400 (NIfTI-2)
    a = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => (version === 1 ? view.getFloat32(280 + 16 * r + 4 * c, h.littleEndian) : view.getFloat64(400 + 32 * r + 8 * c, h.littleEndian))));
  } else if (h.qform_code > 0) {
    const qfac = h.pixDims[0] < 0 ? -1 : 1;
    a = h.convertNiftiQFormToNiftiSForm(h.quatern_b, h.quatern_c, h.quatern_d, h.qoffset_x, h.qoffset_y, h.qoffset_z, h.pixDims[1], h.pixDims[2], h.pixDims[3], qfac);
  } else {
    a = identityAffine();
    for (let i = 0; i < 3; i++) a[i][i] = h.pixDims[i + 1] || 1;
  }
  const affine = [a[0].slice(0, 4), a[1].slice(0, 4), a[2].slice(0, 4), [0, 0, 0, 1]] as Affine;
  if (affine.flat().some((v) => !Number.isFinite(v))) refuse(file, 'bad-nifti', 'the affine (sform/qform) holds a non-finite value');
  return affine;
}

/** A NIfTI-1 file (float32 or uint8 data, sform and qform code 1 with the given affine), gzipped when asked. */
export function writeNifti(v: Pick<Volume, 'data' | 'size' | 'affine'> & { channels?: number }, opts: { datatype?: 'float32' | 'uint8' | 'int16'; gzip?: boolean; description?: string } = {}): Uint8Array {
  const dt = { float32: [16, 4], uint8: [2, 1], int16: [4, 2] }[opts.datatype ?? 'float32'];
  const channels = v.channels ?? 1;
  const count = v.size[0] * v.size[1] * v.size[2] * channels;
  const out = new Uint8Array(352 + count * dt[1]);
  const view = new DataView(out.buffer);
  view.setInt32(0, 348, true);
  const dims = [channels > 1 ? 4 : 3, ...v.size, channels, 1, 1, 1];
  dims.forEach((d, i) => view.setInt16(40 + 2 * i, d, true));
  view.setInt16(70, dt[0], true);
  view.setInt16(72, dt[1] * 8, true);
  const spacing = [0, 1, 2].map((c) => Math.hypot(v.affine[0][c], v.affine[1][c], v.affine[2][c]));
  [1, ...spacing, 1, 1, 1, 1].forEach((p, i) => view.setFloat32(76 + 4 * i, p, true));
  view.setFloat32(108, 352, true); // vox_offset
  view.setFloat32(112, 1, true); // scl_slope
  out.set(new TextEncoder().encode((opts.description ?? 'fedrad').slice(0, 79)), 148);
  view.setInt16(252, 0, true); // qform_code 0: the sform holds the affine exactly
  view.setInt16(254, 1, true); // sform_code: scanner anatomical
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) view.setFloat32(280 + 16 * r + 4 * c, v.affine[r][c], true);
  out.set(new TextEncoder().encode('n+1\0'), 344);
  for (let i = 0; i < count; i++) {
    const o = 352 + i * dt[1];
    if (dt[0] === 16) view.setFloat32(o, v.data[i], true);
    else if (dt[0] === 4) view.setInt16(o, Math.round(v.data[i]), true);
    else view.setUint8(o, Math.round(v.data[i]));
  }
  return opts.gzip ? new Uint8Array(gzipSync(out)) : out;
}
