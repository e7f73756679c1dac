// The synthetic multi-site generator: CT-like 2-D slices written as real DICOM files (valid UIDs,
// spacing, rescale, window; no real names), round lesions of varying size and contrast, labels and
// aligned masks, a manifest per site, and a held-out test set drawn from every site's distribution.
// Sites differ on purpose (non-IID): prevalence, scanner offset and noise, native resolution, size,
// pixel encoding and transfer syntax. Deterministic from the seed.
import { join } from 'node:path';
import { Random } from '../util/random.js';
import { FolderDataSource } from './data-source.js';
import { encodeDicomImage, SOP_CLASS, type TransferSyntaxName } from './dicom-write.js';
import { indexSiteData } from './index-dataset.js';
import type { Window } from './preprocess.js';
import { IMAGES_DIR, LABELS_PATH, MANIFEST_PATH, MASKS_DIR } from './site-layout.js';

/** Soft-tissue window, the one the synthetic CT is meant to be read with. */
export const SYNTH_WINDOW: Window = { center: 40, width: 400 };
export const TEST_SITE_ID = 'test';

export interface SiteProfile {
  siteId: string;
  images: number;
  prevalence: number;
  /** scanner calibration offset, in HU */
  offsetHu: number;
  noiseHu: number;
  nativeSize: number;
  pixelSpacing: number;
  /** signed 16-bit HU, or unsigned 12-bit with a -1024 intercept */
  encoding: 'int16' | 'uint12';
  photometric: 'MONOCHROME1' | 'MONOCHROME2';
  transferSyntax: TransferSyntaxName;
  manufacturer: string;
  /** write patient geometry (position, orientation, slice thickness), so each patient's slices form a CT volume */
  volumes?: boolean;
}

const PROFILE_CYCLE = [
  { prevalence: 0.3, offsetHu: 0, noiseHu: 12, nativeSize: 128, pixelSpacing: 0.7, encoding: 'int16', transferSyntax: 'explicit-le', manufacturer: 'Synthetic Scanner A' },
  { prevalence: 0.55, offsetHu: 25, noiseHu: 22, nativeSize: 96, pixelSpacing: 0.9, encoding: 'uint12', transferSyntax: 'implicit-le', manufacturer: 'Synthetic Scanner B' },
  { prevalence: 0.4, offsetHu: -20, noiseHu: 16, nativeSize: 160, pixelSpacing: 0.6, encoding: 'int16', transferSyntax: 'explicit-be', manufacturer: 'Synthetic Scanner C' },
  { prevalence: 0.65, offsetHu: 40, noiseHu: 28, nativeSize: 112, pixelSpacing: 0.8, encoding: 'uint12', transferSyntax: 'rle', manufacturer: 'Synthetic Scanner D' },
  // federations of more than four sites add sites whose patients are CT volumes (8 slices, 5 mm apart)
  { prevalence: 0.45, offsetHu: 10, noiseHu: 18, nativeSize: 128, pixelSpacing: 0.75, encoding: 'int16', transferSyntax: 'rle', manufacturer: 'Synthetic Scanner E', volumes: true },
  { prevalence: 0.35, offsetHu: -10, noiseHu: 14, nativeSize: 96, pixelSpacing: 0.9, encoding: 'uint12', transferSyntax: 'implicit-le', manufacturer: 'Synthetic Scanner F', volumes: true },
] as const;

/** Site sizes spread geometrically between minImages and maxImages, in a seeded order. */
export function siteProfiles(sites: number, seed: number, minImages = 100, maxImages = 2000): SiteProfile[] {
  const rng = new Random(seed);
  const sizes = Array.from({ length: sites }, (_, i) => Math.round(sites === 1 ? maxImages : minImages * (maxImages / minImages) ** (i / (sites - 1))));
  rng.shuffle(sizes);
  return sizes.map((images, i) => ({ siteId: `site-${i + 1}`, images, photometric: 'MONOCHROME2', ...PROFILE_CYCLE[i % PROFILE_CYCLE.length] }));
}

export interface RenderedSlice {
  /** Hounsfield units, nativeSize x nativeSize, before quantization */
  hu: Float32Array;
  mask: Uint8Array;
  label: 0 | 1;
}

/** One CT-like slice: air, a body ellipse with an organ, noise, and maybe a round lesion. */
export function renderSlice(rng: Random, p: SiteProfile): RenderedSlice {
  const n = p.nativeSize;
  const hu = new Float32Array(n * n);
  const mask = new Uint8Array(n * n);
  const cx = n * rng.uniform(0.46, 0.54);
  const cy = n * rng.uniform(0.46, 0.54);
  const ax = n * rng.uniform(0.36, 0.44);
  const ay = n * rng.uniform(0.28, 0.36);
  const ox = cx + ax * rng.uniform(-0.3, 0.1);
  const oy = cy + ay * rng.uniform(-0.2, 0.2);
  const orx = ax * rng.uniform(0.35, 0.5);
  const ory = ay * rng.uniform(0.4, 0.6);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    const body = ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2;
    let v = -1000;
    if (body <= 1) {
      v = body > 0.85 ? -90 : 35; // a rim of fat, then soft tissue
      if (((x - ox) / orx) ** 2 + ((y - oy) / ory) ** 2 <= 1) v = 60; // an organ
    }
    hu[y * n + x] = v + p.offsetHu + p.noiseHu * rng.normal();
  }
  const label = rng.next() < p.prevalence ? 1 : 0;
  if (label) {
    // inside the organ, so the lesion is never on air
    const r = n * rng.uniform(0.03, 0.09);
    const angle = rng.uniform(0, 2 * Math.PI);
    const dist = rng.uniform(0, 0.5);
    const lx = ox + Math.cos(angle) * dist * orx;
    const ly = oy + Math.sin(angle) * dist * ory;
    const contrast = rng.uniform(50, 140);
    for (let y = Math.max(0, Math.floor(ly - r)); y <= Math.min(n - 1, Math.ceil(ly + r)); y++) {
      for (let x = Math.max(0, Math.floor(lx - r)); x <= Math.min(n - 1, Math.ceil(lx + r)); x++) {
        const d2 = ((x - lx) ** 2 + (y - ly) ** 2) / (r * r);
        if (d2 <= 1) {
          hu[y * n + x] += contrast * (1 - 0.4 * d2);
          mask[y * n + x] = 1;
        }
      }
    }
  }
  return { hu, mask, label };
}

/** Stored pixel values for a profile's encoding, and the rescale that maps them back to HU. */
export function quantize(hu: Float32Array, p: SiteProfile): { pixels: Int16Array | Uint16Array; intercept: number; bitsStored: number } {
  if (p.encoding === 'int16') return { pixels: Int16Array.from(hu, (v) => Math.max(-32768, Math.min(32767, Math.round(v)))), intercept: 0, bitsStored: 16 };
  return { pixels: Uint16Array.from(hu, (v) => Math.max(0, Math.min(4095, Math.round(v + 1024)))), intercept: -1024, bitsStored: 12 };
}

/** A 2.25 OID (UUID-derived form) from the seeded generator. */
export function syntheticUid(rng: Random): string {
  let v = 0n;
  for (let i = 0; i < 4; i++) v = (v << 32n) | BigInt(Math.floor(rng.next() * 2 ** 32));
  return `2.25.${v}`;
}

interface WriteSiteOptions {
  dir: string;
  siteId: string;
  images: number;
  rng: Random;
  profileOf: (i: number) => SiteProfile;
  inputSize: number;
  validationFraction: number;
}

async function writeSite(o: WriteSiteOptions): Promise<{ images: number; positives: number }> {
  const data = new FolderDataSource(join(o.dir, 'data'));
  const labels = ['path,label'];
  let positives = 0;
  let study = '';
  let series = '';
  let patient = 0;
  for (let i = 0; i < o.images; i++) {
    const p = o.profileOf(i);
    if (i % 8 === 0) {
      // eight slices per synthetic patient, one study and series each
      patient++;
      study = syntheticUid(o.rng);
      series = syntheticUid(o.rng);
    }
    const slice = renderSlice(o.rng, p);
    const q = quantize(slice.hu, p);
    const sop = syntheticUid(o.rng);
    const name = `img-${String(i + 1).padStart(5, '0')}.dcm`;
    const geometry = p.volumes
      ? { imagePosition: [-p.nativeSize * p.pixelSpacing / 2, -p.nativeSize * p.pixelSpacing / 2, 5 * (i % 8)] as [number, number, number], imageOrientation: [1, 0, 0, 0, 1, 0] as [number, number, number, number, number, number], sliceThickness: 5 }
      : {};
    const common = {
      ...geometry,
      rows: p.nativeSize, columns: p.nativeSize, pixelSpacing: [p.pixelSpacing, p.pixelSpacing] as [number, number],
      studyInstanceUid: study, seriesInstanceUid: series, patientId: `SYN-${o.siteId}-${String(patient).padStart(4, '0')}`,
      patientName: `Synthetic^Patient${patient}`, instanceNumber: (i % 8) + 1, manufacturer: p.manufacturer,
    };
    await data.write(IMAGES_DIR + name, encodeDicomImage({
      ...common, pixels: q.pixels, bitsStored: q.bitsStored, rescaleSlope: 1, rescaleIntercept: q.intercept, window: SYNTH_WINDOW,
      modality: 'CT', sopClassUid: SOP_CLASS.ct, sopInstanceUid: sop, photometric: p.photometric, transferSyntax: p.transferSyntax, seriesDescription: 'Synthetic abdomen',
    }));
    await data.write(MASKS_DIR + name, encodeDicomImage({
      ...common, pixels: slice.mask, modality: 'OT', sopClassUid: SOP_CLASS.secondaryCapture, sopInstanceUid: syntheticUid(o.rng),
      referencedSopInstanceUid: sop, seriesDescription: 'Lesion mask',
    }));
    labels.push(`${IMAGES_DIR}${name},${slice.label}`);
    positives += slice.label;
  }
  await data.write(LABELS_PATH, `${labels.join('\n')}\n`);
  const manifest = await indexSiteData(data, { siteId: o.siteId, inputSize: o.inputSize, window: SYNTH_WINDOW, validationFraction: o.validationFraction });
  await data.write(MANIFEST_PATH, `${JSON.stringify(manifest, null, 1)}\n`);
  return { images: o.images, positives };
}

export interface SynthOptions {
  out: string;
  sites: number;
  seed: number;
  minImages?: number;
  maxImages?: number;
  testImages?: number;
  inputSize?: number;
  /** where a site's folder (holding data/) goes; default <out>/<siteId> */
  siteDir?: (siteId: string) => string;
}

export interface SynthResult {
  sites: Array<{ siteId: string; dir: string; images: number; positives: number; profile: SiteProfile }>;
  test: { dir: string; images: number; positives: number };
}

export async function synthesizeFederation(o: SynthOptions): Promise<SynthResult> {
  const inputSize = o.inputSize ?? 64;
  const profiles = siteProfiles(o.sites, o.seed, o.minImages, o.maxImages);
  const sites: SynthResult['sites'] = [];
  for (const [i, profile] of profiles.entries()) {
    const dir = o.siteDir ? o.siteDir(profile.siteId) : join(o.out, profile.siteId);
    const rng = new Random(o.seed * 1000 + i + 1);
    const r = await writeSite({ dir, siteId: profile.siteId, images: profile.images, rng, profileOf: () => profile, inputSize, validationFraction: 0.2 });
    sites.push({ siteId: profile.siteId, dir, ...r, profile });
  }
  // The held-out test set: each image from a site's distribution chosen in proportion to its size.
  const total = profiles.reduce((a, p) => a + p.images, 0);
  const rng = new Random(o.seed * 1000 + 999);
  const pick = () => {
    let u = rng.next() * total;
    for (const p of profiles) if ((u -= p.images) < 0) return p;
    return profiles[profiles.length - 1];
  };
  const testDir = join(o.out, TEST_SITE_ID);
  const test = await writeSite({ dir: testDir, siteId: TEST_SITE_ID, images: o.testImages ?? 400, rng, profileOf: pick, inputSize, validationFraction: 0 });
  return { sites, test: { dir: testDir, ...test } };
}
