// `npm run bench:data -- --codecs`: decode throughput per transfer syntax on 512x512 16-bit CT
// frames, ours (lib/data/dicom) beside the reference decoders of dcmtk and gdcm on the same files
// in the same run, alternating. Each file is one multi-frame object, so one process of theirs
// decodes all frames; their start-up and file I/O are measured on the uncompressed object with
// the same tool and subtracted, leaving their decode time. Each figure is the best of --reps
// repetitions. Prints one JSON line per syntax.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeDicomImage, loadCodecs } from '../lib/data/dicom-read.js';
import { encodeDicomImage } from '../lib/data/dicom-write.js';
import { transferSyntaxName } from '../lib/data/dicom/transfer-syntax.js';
import { quantize, renderSlice, siteProfiles, syntheticUid } from '../lib/data/synth.js';
import { Random } from '../lib/util/random.js';

interface Syntax {
  name: string;
  encode: string[];
  /** the reference decoder: argv before input and output */
  decode: string[];
  pixels: 'int16' | 'uint12';
}

const SYNTAXES: Syntax[] = [
  { name: 'jpeg-lossless-sv1', encode: ['dcmcjpeg', '+e1'], decode: ['dcmdjpeg'], pixels: 'int16' },
  { name: 'jpeg-lossless-p14-sv6', encode: ['dcmcjpeg', '+el', '+sv', '6'], decode: ['dcmdjpeg'], pixels: 'int16' },
  { name: 'jpeg-ls-lossless', encode: ['dcmcjpls'], decode: ['dcmdjpls'], pixels: 'int16' },
  { name: 'jpeg-ls-near-lossless', encode: ['dcmcjpls', '+en', '--max-deviation', '2'], decode: ['dcmdjpls'], pixels: 'uint12' },
  { name: 'rle', encode: ['dcmcrle'], decode: ['dcmdrle'], pixels: 'int16' },
  { name: 'jpeg2000-lossless', encode: ['gdcmconv', '--j2k'], decode: ['gdcmconv', '--raw'], pixels: 'int16' },
  { name: 'jpeg2000-lossy', encode: ['gdcmconv', '--j2k', '--lossy', '-q', '70'], decode: ['gdcmconv', '--raw'], pixels: 'uint12' },
  { name: 'deflated', encode: ['gdcmconv', '--deflated'], decode: ['gdcmconv', '--raw'], pixels: 'int16' },
];

// Best of N: on a shared machine the fastest repetition is the one least disturbed by others.
const best = (xs: number[]) => Math.min(...xs);

export async function benchCodecs(o: { frames: number; reps: number }): Promise<void> {
  await loadCodecs();
  const dir = mkdtempSync(join(tmpdir(), 'fedrad-bench-codecs-'));
  const size = 512;
  const rng = new Random(3);
  const frames = (kind: Syntax['pixels']) => {
    const p = { ...siteProfiles(2, 1)[kind === 'int16' ? 0 : 1], nativeSize: size };
    const all = kind === 'int16' ? new Int16Array(size * size * o.frames) : new Uint16Array(size * size * o.frames);
    for (let f = 0; f < o.frames; f++) all.set(quantize(renderSlice(new Random(100 + f), p).hu, p).pixels as never, f * size * size);
    return all;
  };
  const raw: Record<string, string> = {};
  for (const kind of ['int16', 'uint12'] as const) {
    raw[kind] = join(dir, `raw-${kind}.dcm`);
    writeFileSync(raw[kind], encodeDicomImage({
      rows: size, columns: size, frames: o.frames, pixels: frames(kind), bitsStored: kind === 'uint12' ? 12 : 16, modality: 'CT', sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      sopInstanceUid: syntheticUid(rng), studyInstanceUid: syntheticUid(rng), seriesInstanceUid: syntheticUid(rng), patientId: 'BENCH', patientName: 'Synthetic^Bench',
    }));
  }
  const run = (argv: string[]) => {
    const t = performance.now();
    execFileSync(argv[0], argv.slice(1), { stdio: 'pipe' });
    return performance.now() - t;
  };
  for (const s of SYNTAXES) {
    const file = join(dir, `${s.name}.dcm`);
    execFileSync(s.encode[0], [...s.encode.slice(1), raw[s.pixels], file], { stdio: 'pipe' });
    const bytes = new Uint8Array(readFileSync(file));
    const syntax = decodeDicomImage(bytes, file, { headerOnly: true }).transferSyntax;
    const ours: number[] = [];
    const theirs: number[] = [];
    const overhead: number[] = [];
    for (let r = 0; r < o.reps; r++) {
      const t = performance.now();
      const img = decodeDicomImage(bytes, file);
      ours.push(performance.now() - t);
      if (img.frames !== o.frames) throw new Error(`decoded ${img.frames} frames of ${o.frames}`);
      theirs.push(run([...s.decode, file, join(dir, 'out.dcm')]));
      // their start-up and I/O: the same tool on the uncompressed object (nothing to decode)
      overhead.push(run([...s.decode, raw[s.pixels], join(dir, 'out-raw.dcm')]));
    }
    const oursMs = best(ours);
    const theirsMs = Math.max(best(theirs) - best(overhead), 1e-3);
    console.log(JSON.stringify({
      syntax: s.name, transferSyntax: syntax, name: transferSyntaxName(syntax), frames: o.frames, frameSize: `${size}x${size}`, bitsAllocated: 16,
      compressionRatio: +((size * size * 2 * o.frames) / bytes.length).toFixed(2), reference: s.decode.join(' '),
      oursFramesPerSecond: Math.round((o.frames * 1000) / oursMs),
      theirsFramesPerSecond: Math.round((o.frames * 1000) / theirsMs),
      theirsStartupMs: +best(overhead).toFixed(1),
      ratioOursOverTheirs: +(theirsMs / oursMs).toFixed(2),
      goal: 0.5,
      loadAverage: +loadavg()[0].toFixed(1),
    }));
  }
  rmSync(dir, { recursive: true, force: true });
}
