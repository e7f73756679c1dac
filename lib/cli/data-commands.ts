// `fedrad data ...`: generate a synthetic federation, and index a site's DICOM data.
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { FolderDataSource } from '../data/data-source.js';
import { pullDicomweb } from '../data/dicomweb.js';
import { type IndexSummary, indexSiteData, summarizeManifest } from '../data/index-dataset.js';
import { transferSyntaxName } from '../data/dicom/transfer-syntax.js';
import { MANIFEST_PATH } from '../data/site-layout.js';
import { synthesizeFederation } from '../data/synth.js';

const int = (name: string, min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${value}'`);
  return n;
};

function parseWindow(value: string) {
  const [center, width] = value.split(',').map(Number);
  if (!Number.isFinite(center) || !Number.isFinite(width) || width <= 0) throw new InvalidArgumentError(`--window must be "center,width" with width > 0 (e.g. 40,400), got '${value}'`);
  return { center, width };
}

function parseFraction(value: string) {
  const f = Number(value);
  if (!(f >= 0 && f <= 0.9)) throw new InvalidArgumentError(`--validation-fraction must be between 0 and 0.9, got '${value}'`);
  return f;
}

export function addDataCommands(program: Command): void {
  const data = program.command('data').description('site datasets: synthetic generation and indexing');
  data
    .command('synth')
    .description('write a synthetic multi-site federation of real DICOM files, with labels, masks, manifests and a held-out test set')
    .requiredOption('--out <dir>', 'folder to write (one sub-folder per site, plus test/)')
    .option('--sites <n>', 'number of sites', int('--sites', 1), 4)
    .option('--seed <n>', 'seed; the same seed writes the same files', int('--seed', 0), 7)
    .option('--min-images <n>', 'images at the smallest site', int('--min-images', 1), 100)
    .option('--max-images <n>', 'images at the largest site', int('--max-images', 1), 2000)
    .option('--test-images <n>', 'images in the held-out test set', int('--test-images', 1), 400)
    .option('--input-size <pixels>', 'model input size recorded in the manifests', int('--input-size', 8), 64)
    .action(async (o: { out: string; sites: number; seed: number; minImages: number; maxImages: number; testImages: number; inputSize: number }) => {
      if (o.minImages > o.maxImages) throw new InvalidArgumentError(`--min-images (${o.minImages}) must not exceed --max-images (${o.maxImages})`);
      const r = await synthesizeFederation(o);
      for (const s of r.sites) {
        const p = s.profile;
        process.stdout.write(`${s.siteId}: ${s.images} images (${s.positives} with a lesion), ${p.nativeSize}x${p.nativeSize} ${p.encoding} ${p.transferSyntax}, offset ${p.offsetHu} HU, noise ${p.noiseHu} HU -> ${s.dir}\n`);
      }
      process.stdout.write(`test: ${r.test.images} images (${r.test.positives} with a lesion) -> ${r.test.dir}\n`);
    });
  data
    .command('pull')
    .description("copy studies or series from a PACS's DICOMweb service (QIDO-RS + WADO-RS) into a site's data/images/; resumable")
    .requiredOption('--dicomweb <url>', 'the DICOMweb root, e.g. http://pacs:8042/dicom-web')
    .option('--study <uid...>', 'Study Instance UID(s) to pull')
    .option('--series <uid...>', 'only these Series Instance UID(s) of the studies')
    .requiredOption('--out <dir>', "the site's data/ folder")
    .option('--retries <n>', 'retries of a failed request (network error, 429, 5xx)', int('--retries', 0), 3)
    .action(async (o: { dicomweb: string; study?: string[]; series?: string[]; out: string; retries: number }) => {
      const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: 'pull [{bar}] {value}/{total} instances', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
      let started = false;
      const r = await pullDicomweb({
        url: o.dicomweb, studies: o.study, series: o.series, out: o.out, retries: o.retries,
        onProgress: (done, total) => {
          if (!started) bar?.start(total, 0);
          started = true;
          bar?.update(done);
        },
      }).finally(() => bar?.stop());
      process.stdout.write(`${r.instances} instances: ${r.downloaded} downloaded (${(r.bytes / 1e6).toFixed(1)} MB), ${r.alreadyPresent} already present -> ${join(o.out, 'images')}\n`);
    });
  data
    .command('index')
    .description(`read a site's data/ folder and write ${MANIFEST_PATH} (hashes, split, labels, masks, counts, rejected files)`)
    .argument('<dir>', "the site's folder (holding data/) or its data/ folder")
    .option('--site-id <id>', 'site id (default: the folder name)')
    .option('--input-size <pixels>', 'model input size', int('--input-size', 8), 64)
    .option('--window <center,width>', 'window applied before resampling (default: each file\'s own window tags)', parseWindow)
    .option('--validation-fraction <f>', 'share of images held out for validation', parseFraction, 0.2)
    .option('--json', 'print the summary as one JSON object instead of a table')
    .action(async (dir: string, o: { siteId?: string; inputSize: number; window?: { center: number; width: number }; validationFraction: number; json?: boolean }) => {
      const root = existsSync(join(dir, 'data')) ? join(dir, 'data') : dir;
      const siteId = o.siteId ?? basename(resolve(root === dir ? join(dir, '..') : dir));
      const source = new FolderDataSource(root);
      const manifest = await indexSiteData(source, { siteId, inputSize: o.inputSize, window: o.window, validationFraction: o.validationFraction });
      await source.write(MANIFEST_PATH, `${JSON.stringify(manifest, null, 1)}\n`);
      const summary = summarizeManifest(manifest);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...summary, manifest: join(root, MANIFEST_PATH), refusedFiles: manifest.rejected, skippedFiles: manifest.skipped ?? [] })}\n`);
        return;
      }
      const c = manifest.counts;
      process.stdout.write(`${siteId}: ${manifest.files.length} images indexed (train ${c.train.samples} samples ${JSON.stringify(c.train.byLabel)}, validation ${c.validation.samples} ${JSON.stringify(c.validation.byLabel)}), ${manifest.rejected.length} rejected -> ${join(root, MANIFEST_PATH)}\n`);
      process.stdout.write(formatSummary(summary));
      for (const r of manifest.rejected) process.stdout.write(`  refused ${r.path}: ${r.reason}\n`);
      for (const r of manifest.skipped ?? []) process.stdout.write(`  skipped ${r.path}: ${r.reason}\n`);
    });
}

/** The summary as an aligned two-column table: what was indexed, then skipped and refused by reason. */
export function formatSummary(s: IndexSummary): string {
  const rows: Array<[string, string | number]> = [
    ['indexed images', s.images],
    ['  DICOM', s.dicomImages],
    ...Object.entries(s.byTransferSyntax).sort((a, b) => b[1] - a[1]).map(([uid, n]): [string, number] => [`    ${transferSyntaxName(uid)}`, n]),
    ['  NIfTI', s.niftiImages],
    ['volumes (DICOM series, NIfTI)', s.volumes],
    ['2D samples (train / validation)', `${s.samples2d.train} / ${s.samples2d.validation}`],
    ['skipped', Object.values(s.skipped).reduce((a, b) => a + b, 0)],
    ...Object.entries(s.skipped).map(([why, n]): [string, number] => [`  ${why}`, n]),
    ['refused', Object.values(s.refused).reduce((a, b) => a + b, 0)],
    ...Object.entries(s.refused).sort((a, b) => b[1] - a[1]).map(([code, n]): [string, number] => [`  ${code}`, n]),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${String(v).padStart(7)}\n`).join('');
}
