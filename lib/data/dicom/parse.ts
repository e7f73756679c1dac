// Parses a DICOM file into a dicom-parser DataSet, robustly: Part 10 files with or without the
// 128-byte preamble, bare datasets without a file meta group (implicit or explicit VR), deflated
// datasets, and trailing bytes after the last element. A file that is truly broken gets one line
// naming the reason and, where known, the tag or byte offset.
import { inflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import { DicomFileError } from '../../errors.js';
import { transferSyntaxOf } from './transfer-syntax.js';

export type RefusalCode =
  | 'not-dicom' | 'truncated' | 'unsupported-transfer-syntax' | 'bad-header' | 'pixel-size-mismatch'
  | 'codec-error' | 'unsupported-pixels' | 'no-pixel-data' | 'duplicate' | 'no-label' | 'series-geometry' | 'not-nifti' | 'bad-nifti' | 'mask-mismatch';

/** Text from a file or a library, made safe for a one-line message: no control characters, bounded. */
export function quote(text: unknown, max = 80): string {
  const s = typeof text === 'string' ? text : text instanceof Error ? text.message : typeof text === 'number' ? String(text) : 'no detail';
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/^dicomParser[.:]\w+: /, '').trim();
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

export function refuse(file: string, code: RefusalCode, why: string, cause?: unknown): never {
  throw new DicomFileError(`${file}: ${why}`, { file, code }, { cause });
}

/** dicom-parser's messages in words a person can act on. */
function plainReason(message: string): string {
  if (/buffer overrun/i.test(message)) return 'an element runs past the end of the file';
  if (/item tag \(FFFE,E000\) not found|item delimitation/i.test(message)) return `a sequence item is malformed (${message})`;
  return message;
}

export interface ParsedDicom {
  ds: dicomParser.DataSet;
  /** the bytes the dataset's offsets point into (the inflated ones for a deflated file) */
  bytes: Uint8Array;
  transferSyntaxUid: string;
  /** the file had no file meta group; its encoding was inferred */
  bare: boolean;
  /** bytes after the last complete element that were ignored */
  trailingBytes: number;
}

const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));
const DICM = [0x44, 0x49, 0x43, 0x4d];

/** A minimal file meta group naming a transfer syntax, to read a bare dataset through the Part 10 path. */
function metaFor(syntax: string): Uint8Array {
  const value = syntax.length % 2 ? `${syntax}\0` : syntax;
  const out = new Uint8Array(132 + 8 + value.length);
  out.set(DICM, 128);
  out.set([0x02, 0x00, 0x10, 0x00, 0x55, 0x49, value.length & 0xff, value.length >> 8], 132);
  out.set(new TextEncoder().encode(value), 140);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The Part 10 form of the file: preamble restored, or a meta group put in front of a bare dataset. */
function asPart10(bytes: Uint8Array, file: string): { bytes: Uint8Array; bare: boolean } {
  const hasMarker = (at: number) => bytes.length >= at + 4 && DICM.every((c, i) => bytes[at + i] === c);
  if (hasMarker(128)) return { bytes, bare: false };
  if (hasMarker(0)) return { bytes: concat(new Uint8Array(128), bytes), bare: false };
  // A bare dataset starts with a low group (0002..0028) in little-endian order.
  const group = bytes.length >= 8 ? bytes[0] | (bytes[1] << 8) : 0;
  if (group >= 0x0002 && group <= 0x0028 && (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16)) !== 0) {
    const explicit = /^[A-Z]{2}$/.test(ascii(bytes, 4, 2));
    return { bytes: concat(metaFor(explicit ? '1.2.840.10008.1.2.1' : '1.2.840.10008.1.2'), bytes), bare: true };
  }
  return refuse(file, 'not-dicom', 'not a DICOM file (no "DICM" marker at byte 128 or 0, and it does not start like a DICOM dataset)');
}

export function parseDicomFile(input: Uint8Array, file: string, opts: { untilTag?: string } = {}): ParsedDicom {
  const { bytes, bare } = asPart10(input, file);
  let syntax = '1.2.840.10008.1.2.1';
  let inflated: Uint8Array | undefined;
  const options: dicomParser.ParseDicomOptions = {
    untilTag: opts.untilTag,
    inflater: ((arr: Uint8Array, position: number) => {
      try {
        inflated = new Uint8Array(inflateRawSync(arr.subarray(position)));
      } catch (cause) {
        refuse(file, 'truncated', `the deflated dataset after byte ${position} does not inflate (${quote((cause as Error).message)})`, cause);
      }
      return inflated;
    }) as never,
  };
  let ds: dicomParser.DataSet;
  let trailingBytes = 0;
  try {
    ds = dicomParser.parseDicom(bytes, options);
  } catch (thrown) {
    if (thrown instanceof DicomFileError) throw thrown;
    // dicom-parser throws a string, an Error, or { exception, dataSet } with what it read so far.
    const partial = (thrown as { dataSet?: dicomParser.DataSet })?.dataSet;
    const reason = plainReason(quote((thrown as { exception?: unknown })?.exception ?? thrown));
    const pixel = partial?.elements.x7fe00010;
    const end = pixel ? pixel.dataOffset + pixel.length : 0;
    const array = (partial?.byteArray as Uint8Array | undefined) ?? bytes;
    if (partial && pixel && !pixel.hadUndefinedLength && end <= array.length) {
      // Garbage or padding after a complete pixel data element: the image is whole; keep it.
      ds = partial;
      trailingBytes = array.length - end;
    } else {
      const transferSyntax = partial?.string('x00020010');
      if (/DICM prefix not found/.test(reason)) refuse(file, 'not-dicom', 'not a DICOM Part 10 file (no "DICM" marker after the 128-byte preamble)');
      const syntaxNote = transferSyntax ? ` (transfer syntax ${quote(transferSyntax, 64)})` : '';
      return refuse(file, 'truncated', `cannot be parsed as DICOM${syntaxNote}: ${reason}; the file may be truncated or corrupt`, thrown instanceof Error ? thrown : undefined);
    }
  }
  syntax = (ds.string('x00020010') ?? syntax).replace(/\0/g, '').trim();
  if (inflated && !transferSyntaxOf(syntax)?.deflated) syntax = '1.2.840.10008.1.2.1.99';
  return { ds, bytes: (ds.byteArray as Uint8Array) ?? bytes, transferSyntaxUid: syntax, bare, trailingBytes };
}
