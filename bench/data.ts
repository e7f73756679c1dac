// Decoding throughput of the site-data loader: 512x512 16-bit CT slices resampled to 64x64.
// Prints one JSON object: decode-only rate (parse, rescale, window, resample) and the whole
// loadSiteDataset rate (file read, SHA-256 check against the manifest, decode), cache cleared;
// each the best of --reps repetitions.
// Usage: npm run bench:data [-- --images 300] [-- --codecs [--frames 16 --reps 5]] (codecs: bench/data-codecs.ts)
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FolderDataSource } from '../lib/data/data-source.js';
import { decodeDicomImage, windowedFrame } from '../lib/data/dicom-read.js';
import { encodeDicomImage, SOP_CLASS } from '../lib/data/dicom-write.js';
import { indexSiteData } from '../lib/data/index-dataset.js';
import { clearDecodeCache, loadSiteDataset } from '../lib/data/load-dataset.js';
import { resample } from '../lib/data/preprocess.js';
import { MANIFEST_PATH } from '../lib/data/site-layout.js';
import { quantize, renderSlice, siteProfiles, SYNTH_WINDOW, syntheticUid } from '../lib/data/synth.js';
import { Random } from '../lib/util/random.js';
import { benchCodecs } from './data-codecs.js';

const { values } = parseArgs({ options: { images: { type: 'string', default: '300' }, codecs: { type: 'boolean', default: false }, frames: { type: 'string', default: '16' }, reps: { type: 'string', default: '5' } } });
// --reps: repetitions of each measurement (best of them is reported), for both modes
if (values.codecs) {
  await benchCodecs({ frames: Number(values.frames), reps: Number(values.reps) });
  process.exit(0);
}
const count = Number(values.images);
const size = 512;
const profile = { ...siteProfiles(1, 1)[0], nativeSize: size };
const rng = new Random(1);
const dir = await mkdtemp(join(tmpdir(), 'fedrad-bench-data-'));
const src = new FolderDataSource(join(dir, 'data'));
const files: Uint8Array[] = [];
for (let i = 0; i < count; i++) {
  const q = quantize(renderSlice(rng, profile).hu, profile);
  const bytes = encodeDicomImage({
    rows: size, columns: size, pixels: q.pixels, rescaleSlope: 1, rescaleIntercept: q.intercept, window: SYNTH_WINDOW, modality: 'CT', sopClassUid: SOP_CLASS.ct,
    sopInstanceUid: syntheticUid(rng), studyInstanceUid: syntheticUid(rng), seriesInstanceUid: syntheticUid(rng), patientId: 'BENCH', patientName: 'Synthetic^Bench',
  });
  files.push(bytes);
  await src.write(`images/${i}.dcm`, bytes);
}
await src.write(MANIFEST_PATH, JSON.stringify(await indexSiteData(src, { siteId: 'bench', inputSize: 64, window: SYNTH_WINDOW })));

// Best of --reps repetitions of each measurement, alternating: on a shared machine the fastest
// repetition is the one least disturbed by other work.
const reps = Number(values.reps);
const decodeTimes: number[] = [];
const loadTimes: number[] = [];
const cachedTimes: number[] = [];
let loadedCount = 0;
const windowed = new Float32Array(size * size);
for (let r = 0; r < reps; r++) {
  let t = performance.now();
  for (const [i, bytes] of files.entries()) {
    const img = decodeDicomImage(bytes, `${i}.dcm`);
    windowedFrame(img, 0, SYNTH_WINDOW, windowed);
    resample(windowed, size, size, 64);
  }
  decodeTimes.push((performance.now() - t) / 1000);
  clearDecodeCache();
  t = performance.now();
  const loaded = await loadSiteDataset(src);
  loadTimes.push((performance.now() - t) / 1000);
  loadedCount = loaded.train.count + loaded.validation.count;
  t = performance.now();
  await loadSiteDataset(src); // second load: decoded tensors come from the cache
  cachedTimes.push((performance.now() - t) / 1000);
}
await rm(dir, { recursive: true, force: true });
const best = (xs: number[]) => Math.min(...xs);

console.log(JSON.stringify({
  images: count, sourceSize: `${size}x${size}`, bitsAllocated: 16, targetSize: '64x64', reps,
  decodedImagesPerSecond: Math.round(count / best(decodeTimes)),
  loadImagesPerSecond: Math.round(loadedCount / best(loadTimes)),
  cachedLoadImagesPerSecond: Math.round(count / best(cachedTimes)),
  target: 500,
  loadAverage: +loadavg()[0].toFixed(1),
}));
