// The transfer syntaxes fedrad reads: how each one's pixel data is stored and which codec decodes it.
export type PixelEncoding = 'native' | 'jpeg-baseline' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg2000' | 'htj2k' | 'rle';

export interface TransferSyntax {
  uid: string;
  name: string;
  encoding: PixelEncoding;
  littleEndian: boolean;
  /** the dataset after the file meta group is deflated (RFC 1951) */
  deflated?: boolean;
  lossy?: boolean;
}

const table: TransferSyntax[] = [
  { uid: '1.2.840.10008.1.2', name: 'Implicit VR Little Endian', encoding: 'native', littleEndian: true },
  { uid: '1.2.840.10008.1.2.1', name: 'Explicit VR Little Endian', encoding: 'native', littleEndian: true },
  { uid: '1.2.840.10008.1.2.2', name: 'Explicit VR Big Endian', encoding: 'native', littleEndian: false },
  { uid: '1.2.840.10008.1.2.1.99', name: 'Deflated Explicit VR Little Endian', encoding: 'native', littleEndian: true, deflated: true },
  { uid: '1.2.840.10008.1.2.4.50', name: 'JPEG Baseline (Process 1)', encoding: 'jpeg-baseline', littleEndian: true, lossy: true },
  { uid: '1.2.840.10008.1.2.4.51', name: 'JPEG Extended (Process 2 & 4)', encoding: 'jpeg-baseline', littleEndian: true, lossy: true },
  { uid: '1.2.840.10008.1.2.4.57', name: 'JPEG Lossless, Non-Hierarchical (Process 14)', encoding: 'jpeg-lossless', littleEndian: true },
  { uid: '1.2.840.10008.1.2.4.70', name: 'JPEG Lossless, First-Order Prediction (Process 14, SV1)', encoding: 'jpeg-lossless', littleEndian: true },
  { uid: '1.2.840.10008.1.2.4.80', name: 'JPEG-LS Lossless', encoding: 'jpeg-ls', littleEndian: true },
  { uid: '1.2.840.10008.1.2.4.81', name: 'JPEG-LS Near-Lossless', encoding: 'jpeg-ls', littleEndian: true, lossy: true },
  { uid: '1.2.840.10008.1.2.4.90', name: 'JPEG 2000 (Lossless Only)', encoding: 'jpeg2000', littleEndian: true },
  { uid: '1.2.840.10008.1.2.4.91', name: 'JPEG 2000', encoding: 'jpeg2000', littleEndian: true, lossy: true },
  { uid: '1.2.840.10008.1.2.4.201', name: 'High-Throughput JPEG 2000 (Lossless Only)', encoding: 'htj2k', littleEndian: true },
  { uid: '1.2.840.10008.1.2.4.202', name: 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)', encoding: 'htj2k', littleEndian: true },
  { uid: '1.2.840.10008.1.2.4.203', name: 'High-Throughput JPEG 2000', encoding: 'htj2k', littleEndian: true, lossy: true },
  { uid: '1.2.840.10008.1.2.5', name: 'RLE Lossless', encoding: 'rle', littleEndian: true },
];

const byUid = new Map(table.map((t) => [t.uid, t]));

/** Syntaxes we know by name but do not read (video, JPIP references, JPEG-XL...): refused with the name. */
const KNOWN_UNREAD: Record<string, string> = {
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile / Main Level (video)',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264 High Profile (video)',
  '1.2.840.10008.1.2.4.103': 'MPEG-4 AVC/H.264 BD-compatible High Profile (video)',
  '1.2.840.10008.1.2.4.107': 'HEVC/H.265 Main Profile (video)',
  '1.2.840.10008.1.2.4.94': 'JPIP Referenced (pixel data held elsewhere)',
  '1.2.840.10008.1.2.4.110': 'JPEG XL Lossless',
  '1.2.840.10008.1.2.4.112': 'JPEG XL',
};

export function transferSyntaxOf(uid: string): TransferSyntax | undefined {
  return byUid.get(uid);
}

export function transferSyntaxName(uid: string): string {
  return byUid.get(uid)?.name ?? KNOWN_UNREAD[uid] ?? 'unknown transfer syntax';
}

export const READABLE_TRANSFER_SYNTAXES: readonly TransferSyntax[] = table;
