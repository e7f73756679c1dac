// `fedrad data pull --dicomweb`: copies studies or series from a PACS's DICOMweb service into a
// site's data/images/ — QIDO-RS to list instances, WADO-RS to fetch each one as stored (any
// transfer syntax; the readers decode them). Plain fetch: the protocol needs two GETs and a
// multipart reader, smaller than a client library. Transient failures (network errors, 429, 5xx)
// are retried with backoff; files are written under a temporary name and renamed when complete, so
// a pull that stops can be run again and fetches only what is missing.
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FedradError } from '../errors.js';
import { quote } from './dicom/parse.js';
import { IMAGES_DIR } from './site-layout.js';

/** The DICOMweb service failed, or answered something that is not DICOMweb. */
export class DicomwebError extends FedradError {}

export interface PullOptions {
  /** the service root, e.g. http://pacs:8042/dicom-web */
  url: string;
  studies?: string[];
  /** series to pull (within the studies given; each needs its study) */
  series?: string[];
  /** the site's data/ folder */
  out: string;
  retries?: number;
  /** first backoff in ms, doubled per retry */
  backoffMs?: number;
  headers?: Record<string, string>;
  onProgress?: (done: number, total: number) => void;
}

export interface PullResult {
  instances: number;
  downloaded: number;
  alreadyPresent: number;
  bytes: number;
}

const UID = /^[0-9]+(\.[0-9]+)*$/;

function checkUid(kind: string, uid: string): string {
  if (!UID.test(uid) || uid.length > 64) throw new DicomwebError(`${kind} "${quote(uid, 70)}" is not a DICOM UID (digits and dots, at most 64 characters)`, { uid });
  return uid;
}

async function request(url: string, accept: string, o: PullOptions): Promise<Response> {
  const retries = o.retries ?? 3;
  let delay = o.backoffMs ?? 250;
  for (let attempt = 0; ; attempt++) {
    let res: Response | undefined;
    let failure: string;
    try {
      res = await fetch(url, { headers: { Accept: accept, ...o.headers } });
      if (res.ok) return res;
      failure = `HTTP ${res.status} ${quote(res.statusText, 40)}`;
      if (res.status !== 429 && res.status < 500) {
        throw new DicomwebError(`${url}: ${failure}${res.status === 404 ? ' (no such study, series or instance, or not a DICOMweb root)' : ''}`, { url, status: res.status });
      }
    } catch (err) {
      if (err instanceof DicomwebError) throw err;
      failure = quote((err as Error).cause ?? err, 100);
    }
    if (attempt >= retries) throw new DicomwebError(`${url}: ${failure} after ${retries + 1} attempts`, { url });
    await new Promise((r) => setTimeout(r, delay));
    delay *= 2;
  }
}

async function qido(url: string, o: PullOptions): Promise<Array<Record<string, { Value?: unknown[] }>>> {
  const res = await request(url, 'application/dicom+json', o);
  const text = await res.text();
  if (!text.trim()) return []; // 204 or empty body: no matches
  try {
    const json = JSON.parse(text);
    if (Array.isArray(json)) return json;
  } catch {
    // fall through
  }
  throw new DicomwebError(`${url}: the answer is not a DICOM JSON array (QIDO-RS); check the service root`, { url });
}

const valueOf = (item: Record<string, { Value?: unknown[] }>, tag: string) => {
  const v = item[tag]?.Value?.[0];
  return typeof v === 'string' ? v : undefined;
};

/** The parts of a multipart/related body. */
export function multipartParts(body: Uint8Array, contentType: string): Uint8Array[] {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!m) throw new DicomwebError(`the WADO-RS answer is "${quote(contentType, 60)}", not multipart/related with a boundary`);
  const delimiter = new TextEncoder().encode(`--${m[1]}`);
  const starts: number[] = [];
  outer: for (let i = 0; i + delimiter.length <= body.length; i++) {
    for (let j = 0; j < delimiter.length; j++) if (body[i + j] !== delimiter[j]) continue outer;
    starts.push(i);
    i += delimiter.length - 1;
  }
  const parts: Uint8Array[] = [];
  for (let p = 0; p + 1 < starts.length; p++) {
    const part = body.subarray(starts[p] + delimiter.length, starts[p + 1]);
    // headers end at the first blank line; the content ends before the CRLF preceding the next delimiter
    let h = 0;
    while (h + 3 < part.length && !(part[h] === 13 && part[h + 1] === 10 && part[h + 2] === 13 && part[h + 3] === 10)) h++;
    let end = part.length;
    if (part[end - 2] === 13 && part[end - 1] === 10) end -= 2;
    parts.push(part.subarray(h + 4, end));
  }
  return parts;
}

export async function pullDicomweb(o: PullOptions): Promise<PullResult> {
  const root = o.url.replace(/\/+$/, '');
  if (!/^https?:\/\//.test(root)) throw new DicomwebError(`--dicomweb must be an http(s) URL, got "${quote(o.url, 80)}"`);
  const studies = (o.studies ?? []).map((s) => checkUid('study', s));
  const seriesFilter = new Set((o.series ?? []).map((s) => checkUid('series', s)));
  if (studies.length === 0) throw new DicomwebError('name at least one --study (and optionally --series within it)');
  const todo: Array<{ study: string; series: string; sop: string }> = [];
  for (const study of studies) {
    const seriesList = (await qido(`${root}/studies/${study}/series`, o)).map((s) => valueOf(s, '0020000E')).filter((s): s is string => !!s);
    for (const series of seriesList.filter((s) => seriesFilter.size === 0 || seriesFilter.has(s))) {
      for (const inst of await qido(`${root}/studies/${study}/series/${series}/instances`, o)) {
        const sop = valueOf(inst, '00080018');
        if (sop && UID.test(sop)) todo.push({ study, series, sop });
      }
    }
  }
  const result: PullResult = { instances: todo.length, downloaded: 0, alreadyPresent: 0, bytes: 0 };
  let done = 0;
  o.onProgress?.(0, todo.length);
  for (const t of todo) {
    const target = join(o.out, IMAGES_DIR, t.study, t.series, `${t.sop}.dcm`);
    if (existsSync(target)) {
      result.alreadyPresent++;
    } else {
      const url = `${root}/studies/${t.study}/series/${t.series}/instances/${t.sop}`;
      const res = await request(url, 'multipart/related; type="application/dicom"; transfer-syntax=*', o);
      const parts = multipartParts(new Uint8Array(await res.arrayBuffer()), res.headers.get('content-type') ?? '');
      if (parts.length !== 1) throw new DicomwebError(`${url}: expected one DICOM part, got ${parts.length}`, { url });
      await mkdir(dirname(target), { recursive: true });
      await writeFile(`${target}.part`, parts[0]);
      await rename(`${target}.part`, target);
      result.downloaded++;
      result.bytes += parts[0].length;
    }
    o.onProgress?.(++done, todo.length);
  }
  return result;
}
