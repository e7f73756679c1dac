// A synthetic volumetric federation: brain-MR-like volumes with 1-4 sequences (FLAIR-, T1ce-, T2-
// and T1-like contrasts), a tumour with a core inside oedema (label map 1 = core, 2 = oedema), one
// NIfTI image (channels on the fourth axis, int16) and one NIfTI label map (uint8) per volume under
// each site's data/images and data/masks, indexed into its manifest. Sites differ as scanners and
// populations do: contrast of the lesion, gain and bias field (field strength, coil), noise, voxel
// spacing (anisotropic slices at some), field of view, lesion size and volume count. A held-out
// test site draws each volume from a site's distribution in proportion to its size.
import { join } from 'node:path';
import { Random } from '../util/random.js';
import { FolderDataSource } from './data-source.js';
import { indexSiteData } from './index-dataset.js';
import { writeNifti } from './nifti.js';
import { IMAGES_DIR, MANIFEST_PATH, MASKS_DIR } from './site-layout.js';
import type { Affine } from './volume.js';

export const SYNTH3D_TEST_SITE_ID = 'test';

/** Per tissue and sequence: background, grey matter, white matter, CSF, oedema, tumour core. */
const TISSUE: number[][] = [
  // FLAIR  T1ce  T2   T1
  [0, 0, 0, 0],
  [100, 100, 100, 100],
  [88, 112, 80, 120],
  [30, 40, 220, 40],
  [185, 96, 175, 84],
  [150, 210, 160, 78],
];
const BG = 0;
const GM = 1;
const WM = 2;
const CSF = 3;
const EDEMA = 4;
const CORE = 5;

export interface Site3dProfile {
  siteId: string;
  volumes: number;
  /** voxels along i, j, k */
  size: [number, number, number];
  /** mm */
  spacing: [number, number, number];
  /** lesion-to-brain contrast multiplier per sequence (field strength, sequence parameters) */
  contrast: number;
  /** global gain and the linear bias field's strength across the field of view */
  gain: number;
  bias: number;
  /** noise standard deviation, in units of grey matter's intensity (100) */
  noise: number;
  /** tumour core radius range in mm; oedema reaches 1.4-2x further */
  coreRadius: [number, number];
}

/** Site profiles for `sites` sites: spacing, FOV, contrast, noise and lesion size vary by site. */
export function site3dProfiles(sites: number, seed: number, minVolumes = 4, maxVolumes = 10): Site3dProfile[] {
  const rng = new Random(seed * 7919 + 3);
  const spacings: Array<[number, number, number]> = [[2, 2, 2], [1.6, 1.6, 3], [2.4, 2.4, 2.4], [2, 2, 2.5]];
  return Array.from({ length: sites }, (_, s) => {
    const spacing = spacings[s % spacings.length];
    const fov = rng.uniform(60, 72); // mm, a cube around the brain
    const size = spacing.map((h) => Math.round(fov / h)) as [number, number, number];
    const small = s % 3 === 1;
    return {
      siteId: `site-${s + 1}`,
      volumes: Math.round(minVolumes + (maxVolumes - minVolumes) * (sites === 1 ? 0 : s / (sites - 1))),
      size,
      spacing,
      contrast: rng.uniform(0.7, 1.15),
      gain: rng.uniform(0.8, 1.3),
      bias: rng.uniform(0, 0.25),
      noise: rng.uniform(3, 9),
      coreRadius: small ? [3, 5] : [4, 8],
    };
  });
}

export interface RenderedVolume {
  /** [channels, k, j, i] */
  image: Float32Array;
  /** [k, j, i]: 0 background, 1 tumour core, 2 oedema */
  labels: Uint8Array;
  affine: Affine;
}

/** One subject as the site's scanner sees it. */
export function renderBrainVolume(rng: Random, p: Site3dProfile, channels: number): RenderedVolume {
  const [I, J, K] = p.size;
  const per = I * J * K;
  // the brain: an ellipsoid of radii ~ (25, 29, 22) mm with a white-matter core and two ventricles
  const radii = [25, 29, 22].map((r) => r * rng.uniform(0.9, 1.08));
  const shift = [0, 1, 2].map(() => rng.uniform(-3, 3));
  const vent = rng.uniform(3, 5);
  // the tumour: a centre inside the brain, lobulated core and oedema boundaries
  const rc = rng.uniform(p.coreRadius[0], p.coreRadius[1]);
  const re = rc * rng.uniform(1.4, 2);
  const dir = rng.normal() > 0 ? 1 : -1;
  const centre = [dir * rng.uniform(6, 12) + shift[0], rng.uniform(-10, 10) + shift[1], rng.uniform(-6, 8) + shift[2]];
  const lobes = [0, 1, 2].map(() => ({ a: rng.uniform(0.08, 0.2), f: rng.int(2, 4), ph: rng.uniform(0, 2 * Math.PI) }));
  const biasDir = [rng.normal(), rng.normal(), rng.normal()];
  const bn = Math.hypot(...biasDir) || 1;
  const image = new Float32Array(channels * per);
  const labels = new Uint8Array(per);
  const fov = p.size.map((n, a) => n * p.spacing[a]);
  for (let k = 0; k < K; k++) for (let j = 0; j < J; j++) for (let i = 0; i < I; i++) {
    const x = (i + 0.5) * p.spacing[0] - fov[0] / 2;
    const y = (j + 0.5) * p.spacing[1] - fov[1] / 2;
    const z = (k + 0.5) * p.spacing[2] - fov[2] / 2;
    const b = Math.hypot((x - shift[0]) / radii[0], (y - shift[1]) / radii[1], (z - shift[2]) / radii[2]);
    let tissue = BG;
    if (b < 1) {
      tissue = b < 0.7 ? WM : GM;
      if (Math.hypot((Math.abs(x - shift[0]) - 6) / vent, (y - shift[1]) / (2.2 * vent), (z - shift[2]) / vent) < 1) tissue = CSF;
      const dx = x - centre[0];
      const dy = y - centre[1];
      const dz = z - centre[2];
      const r = Math.hypot(dx, dy, dz);
      const theta = Math.atan2(dy, dx);
      const phi = Math.acos(r === 0 ? 1 : dz / r);
      const wobble = 1 + lobes.reduce((a, l, t) => a + l.a * Math.sin(l.f * (t === 1 ? phi : theta) + l.ph), 0);
      if (r < rc * wobble) tissue = CORE;
      else if (r < re * wobble) tissue = EDEMA;
    }
    const v = (k * J + j) * I + i;
    labels[v] = tissue === CORE ? 1 : tissue === EDEMA ? 2 : 0;
    const field = p.gain * (1 + (p.bias * (x * biasDir[0] + y * biasDir[1] + z * biasDir[2])) / (bn * 35));
    for (let c = 0; c < channels; c++) {
      const brain = TISSUE[GM][c];
      const base = tissue === EDEMA || tissue === CORE ? brain + (TISSUE[tissue][c] - brain) * p.contrast : TISSUE[tissue][c];
      image[c * per + v] = tissue === BG ? Math.abs(p.noise * 0.5 * rng.normal()) : Math.max(0, base * field + p.noise * rng.normal());
    }
  }
  const affine: Affine = [
    [p.spacing[0], 0, 0, -fov[0] / 2 + p.spacing[0] / 2],
    [0, p.spacing[1], 0, -fov[1] / 2 + p.spacing[1] / 2],
    [0, 0, p.spacing[2], -fov[2] / 2 + p.spacing[2] / 2],
    [0, 0, 0, 1],
  ];
  return { image, labels, affine };
}

async function writeSite3d(dir: string, siteId: string, count: number, channels: number, rng: Random, profileOf: () => Site3dProfile, validationFraction: number): Promise<{ volumes: number; lesionVoxels: number }> {
  const data = new FolderDataSource(join(dir, 'data'));
  let lesionVoxels = 0;
  for (let n = 0; n < count; n++) {
    const p = profileOf();
    const v = renderBrainVolume(rng, p, channels);
    const name = `sub-${String(n + 1).padStart(3, '0')}.nii.gz`;
    await data.write(IMAGES_DIR + name, writeNifti({ data: v.image, size: p.size, affine: v.affine, channels }, { datatype: 'int16', gzip: true, description: `fedrad synthetic brain MR, ${channels} sequence(s)` }));
    await data.write(MASKS_DIR + name, writeNifti({ data: Float32Array.from(v.labels), size: p.size, affine: v.affine }, { datatype: 'uint8', gzip: true, description: 'tumour: 1 core, 2 oedema' }));
    for (const l of v.labels) if (l > 0) lesionVoxels++;
  }
  const manifest = await indexSiteData(data, { siteId, inputSize: 64, validationFraction });
  await data.write(MANIFEST_PATH, `${JSON.stringify(manifest, null, 1)}\n`);
  return { volumes: count, lesionVoxels };
}

export interface Synth3dOptions {
  out: string;
  sites: number;
  seed: number;
  /** sequences per volume, 1-4 (FLAIR, T1ce, T2, T1 in that order) */
  channels?: number;
  minVolumes?: number;
  maxVolumes?: number;
  testVolumes?: number;
  /** fraction of each site's volumes held for its validation split (default 0.25) */
  validationFraction?: number;
  siteDir?: (siteId: string) => string;
}

export interface Synth3dResult {
  sites: Array<{ siteId: string; dir: string; volumes: number; lesionVoxels: number; profile: Site3dProfile }>;
  test: { dir: string; volumes: number; lesionVoxels: number };
}

export async function synthesizeFederation3d(o: Synth3dOptions): Promise<Synth3dResult> {
  const channels = o.channels ?? 2;
  if (!Number.isInteger(channels) || channels < 1 || channels > 4) throw new RangeError(`synthetic MR has 1 to 4 sequences; got ${channels}`);
  const profiles = site3dProfiles(o.sites, o.seed, o.minVolumes, o.maxVolumes);
  const sites: Synth3dResult['sites'] = [];
  for (const [s, profile] of profiles.entries()) {
    const dir = o.siteDir ? o.siteDir(profile.siteId) : join(o.out, profile.siteId);
    const r = await writeSite3d(dir, profile.siteId, profile.volumes, channels, new Random(o.seed * 1000 + s + 1), () => profile, o.validationFraction ?? 0.25);
    sites.push({ siteId: profile.siteId, dir, ...r, profile });
  }
  const total = profiles.reduce((a, p) => a + p.volumes, 0);
  const rng = new Random(o.seed * 1000 + 999);
  const pick = () => {
    let u = rng.next() * total;
    for (const p of profiles) if ((u -= p.volumes) < 0) return p;
    return profiles[profiles.length - 1];
  };
  const testDir = join(o.out, SYNTH3D_TEST_SITE_ID);
  const test = await writeSite3d(testDir, SYNTH3D_TEST_SITE_ID, o.testVolumes ?? 6, channels, rng, pick, 0);
  return { sites, test: { dir: testDir, ...test } };
}
