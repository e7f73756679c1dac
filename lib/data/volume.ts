// Image geometry and the one Sample type every reader hands the loader. A Volume is a voxel grid
// with the affine that maps voxel indices (i, j, k) to patient millimetres in RAS+ (+x towards the
// patient's right, +y anterior, +z superior: the NIfTI and nibabel convention); DICOM's LPS
// positions are converted on the way in (x and y negated). Reorientation (to RAS, by permuting and
// flipping axes, never interpolating) and resampling to a target spacing (linear for images,
// nearest for masks) make sites with different scanners meet the model in one geometry.

/** Row-major 4x4 matrix; the last row is 0 0 0 1. */
export type Affine = [number[], number[], number[], number[]];

export interface Volume {
  /** voxels, i fastest, then j, then k, then the fourth axis (channels or time points) */
  data: Float32Array;
  /** voxels along i, j, k */
  size: [number, number, number];
  /** entries along the fourth axis (1 for a 3D volume); NIfTI's t axis or a vector's components */
  channels: number;
  /** voxel index (i, j, k, 1) -> RAS+ millimetres */
  affine: Affine;
}

/** What every reader returns: a 2D slice is a volume one voxel deep. */
export interface Sample {
  kind: '2d' | '3d';
  image: Volume;
  /** a label map on the same grid, when the sample has one */
  mask?: Volume;
  /** the files it came from, relative to the site's data/ */
  sources: string[];
  modality: string;
  seriesInstanceUid?: string;
}

export interface Geometry {
  size: [number, number, number];
  spacing: [number, number, number];
  /** the axis codes of i, j, k, e.g. "RAS" or "LPI" (nibabel's aff2axcodes); absent when unknown */
  orientation?: string;
  /** RAS+ position of the first voxel's centre, mm; absent when unknown */
  origin?: [number, number, number];
}

export function identityAffine(): Affine {
  return [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
}

export function multiply(a: Affine, b: Affine): Affine {
  const out = identityAffine();
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) out[r][c] = a[r][0] * b[0][c] + a[r][1] * b[1][c] + a[r][2] * b[2][c] + a[r][3] * b[3][c];
  return out;
}

/** Voxel spacing along i, j, k: the lengths of the affine's columns. */
export function spacingOf(affine: Affine): [number, number, number] {
  return [0, 1, 2].map((c) => Math.hypot(affine[0][c], affine[1][c], affine[2][c])) as [number, number, number];
}

/** For each voxel axis, the patient axis it runs along most and its direction: "R"/"L", "A"/"P", "S"/"I". */
export function orientationOf(affine: Affine): string {
  const codes = [['L', 'R'], ['P', 'A'], ['I', 'S']];
  let out = '';
  const used = new Set<number>();
  for (let c = 0; c < 3; c++) {
    let best = -1;
    for (let r = 0; r < 3; r++) if (!used.has(r) && (best < 0 || Math.abs(affine[r][c]) > Math.abs(affine[best][c]))) best = r;
    used.add(best);
    out += codes[best][affine[best][c] >= 0 ? 1 : 0];
  }
  return out;
}

export function geometryOf(v: Pick<Volume, 'size' | 'affine'>): Geometry {
  const round = (x: number) => Math.round(x * 1e4) / 1e4;
  return {
    size: [...v.size] as Geometry['size'],
    spacing: spacingOf(v.affine).map(round) as Geometry['spacing'],
    orientation: orientationOf(v.affine),
    origin: [v.affine[0][3], v.affine[1][3], v.affine[2][3]].map(round) as Geometry['origin'],
  };
}

/**
 * The affine of a DICOM slice stack. `orientation` is Image Orientation (Patient) (row then column
 * direction cosines), `position` the first slice's Image Position (Patient), `pixelSpacing` the
 * (row spacing, column spacing) pair, `sliceStep` the LPS vector from one slice to the next.
 * i runs along a row (columns), j down the columns (rows), k across slices. LPS -> RAS flips x, y.
 */
export function affineFromDicom(
  orientation: readonly number[], position: readonly number[], pixelSpacing: readonly [number, number], sliceStep: readonly number[],
): Affine {
  const [rx, ry, rz, cx, cy, cz] = orientation;
  const [dr, dc] = pixelSpacing; // spacing between rows (along the column direction), between columns
  const lps: Affine = [
    [rx * dc, cx * dr, sliceStep[0], position[0]],
    [ry * dc, cy * dr, sliceStep[1], position[1]],
    [rz * dc, cz * dr, sliceStep[2], position[2]],
    [0, 0, 0, 1],
  ];
  return [lps[0].map((v) => -v), lps[1].map((v) => -v), lps[2], lps[3]] as Affine;
}

/**
 * Reorients to RAS+ by permuting and flipping voxel axes (nibabel's as_closest_canonical): no
 * interpolation, so values and masks stay exact. The affine changes to describe the same space.
 */
export function reorientToRas(v: Volume): Volume {
  return reorient(v, 'RAS');
}

/**
 * Reorients so that i, j, k run along x, y, z in the directions of `target` ("RAS", or "LPS":
 * DICOM's axial display, rows anterior to posterior, columns right to left).
 */
export function reorient(v: Volume, target: string): Volume {
  if (!/^[RL][AP][SI]$/.test(target)) throw new RangeError(`orientation "${target}" must be three letters: R or L, A or P, S or I`);
  const codes = orientationOf(v.affine);
  const axisOf = (patientAxis: string) => codes.split('').findIndex((c) => patientAxis.includes(c));
  const perm = ['RL', 'AP', 'SI'].map(axisOf); // perm[d]: the source axis that becomes destination axis d
  const flip = perm.map((src, d) => codes[src] !== target[d]);
  if (perm.every((p, d) => p === d) && !flip.some(Boolean)) return v;
  const size = perm.map((p) => v.size[p]) as Volume['size'];
  const [nx, ny, nz] = v.size;
  const out = new Float32Array(v.data.length);
  const stride = [1, nx, nx * ny];
  const per = nx * ny * nz;
  for (let t = 0; t < v.channels; t++) {
    let o = t * per;
    for (let k = 0; k < size[2]; k++) for (let j = 0; j < size[1]; j++) for (let i = 0; i < size[0]; i++) {
      const d = [i, j, k];
      let src = t * per;
      for (let a = 0; a < 3; a++) src += (flip[a] ? size[a] - 1 - d[a] : d[a]) * stride[perm[a]];
      out[o++] = v.data[src];
    }
  }
  // new voxel index d maps to old index: old[perm[a]] = flip ? size[a]-1-d[a] : d[a]
  const m = [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]] as Affine;
  for (let a = 0; a < 3; a++) {
    m[perm[a]][a] = flip[a] ? -1 : 1;
    m[perm[a]][3] = flip[a] ? size[a] - 1 : 0;
  }
  return { data: out, size, channels: v.channels, affine: multiply(v.affine, m) };
}

/**
 * Resamples to a target spacing (mm) on the same field of view: trilinear for images, nearest
 * neighbour for masks. Voxel centres stay aligned at the first voxel; the grid ends within the
 * original extent.
 */
export function resampleVolume(v: Volume, spacing: readonly [number, number, number], mode: 'linear' | 'nearest'): Volume {
  const from = spacingOf(v.affine);
  const scale = from.map((s, a) => spacing[a] / s); // source voxels per target voxel
  const size = v.size.map((n, a) => Math.max(1, Math.floor(((n - 1) * from[a]) / spacing[a] + 1e-6) + 1)) as Volume['size'];
  const [nx, ny, nz] = v.size;
  const per = nx * ny * nz;
  const outPer = size[0] * size[1] * size[2];
  const out = new Float32Array(outPer * v.channels);
  const axis = (a: number, n: number) => {
    const lo = new Int32Array(size[a]);
    const hi = new Int32Array(size[a]);
    const w = new Float32Array(size[a]);
    for (let d = 0; d < size[a]; d++) {
      const x = Math.min(d * scale[a], n - 1);
      if (mode === 'nearest') {
        lo[d] = hi[d] = Math.round(x);
      } else {
        lo[d] = Math.floor(x);
        hi[d] = Math.min(lo[d] + 1, n - 1);
        w[d] = x - lo[d];
      }
    }
    return { lo, hi, w };
  };
  const X = axis(0, nx);
  const Y = axis(1, ny);
  const Z = axis(2, nz);
  for (let t = 0; t < v.channels; t++) {
    const src = v.data.subarray(t * per, (t + 1) * per);
    let o = t * outPer;
    for (let k = 0; k < size[2]; k++) {
      const z0 = Z.lo[k] * nx * ny;
      const z1 = Z.hi[k] * nx * ny;
      const wz = Z.w[k];
      for (let j = 0; j < size[1]; j++) {
        const y0 = Y.lo[j] * nx;
        const y1 = Y.hi[j] * nx;
        const wy = Y.w[j];
        for (let i = 0; i < size[0]; i++) {
          const x0 = X.lo[i];
          const x1 = X.hi[i];
          const wx = X.w[i];
          const c00 = src[z0 + y0 + x0] * (1 - wx) + src[z0 + y0 + x1] * wx;
          const c01 = src[z0 + y1 + x0] * (1 - wx) + src[z0 + y1 + x1] * wx;
          const c10 = src[z1 + y0 + x0] * (1 - wx) + src[z1 + y0 + x1] * wx;
          const c11 = src[z1 + y1 + x0] * (1 - wx) + src[z1 + y1 + x1] * wx;
          out[o++] = (c00 * (1 - wy) + c01 * wy) * (1 - wz) + (c10 * (1 - wy) + c11 * wy) * wz;
        }
      }
    }
  }
  const affine = v.affine.map((row) => [...row]) as Affine;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) affine[r][c] = v.affine[r][c] * scale[c];
  return { data: out, size, channels: v.channels, affine };
}

/** One k-slice of a volume (channel 0), as rows x columns = size[1] x size[0]. */
export function sliceOf(v: Volume, k: number): Float32Array {
  const per = v.size[0] * v.size[1];
  return v.data.subarray(k * per, (k + 1) * per);
}
