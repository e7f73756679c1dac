// The PACS pull against a real DICOMweb server: Debian's Orthanc with its DICOMweb plugin, started
// on 127.0.0.1 by the test (.ci/run installs both), behind a proxy that fails every first request
// so the retries are exercised.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDicomImage, loadCodecs } from '../../../lib/data/dicom-read.js';
import { DicomwebError, multipartParts, pullDicomweb } from '../../../lib/data/dicomweb.js';
import { writeSeries } from '../../support/volume-corpus.js';

const ORTHANC = '/usr/sbin/Orthanc';
const PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
const available = existsSync(ORTHANC) && existsSync(PLUGIN);
if (!available) console.warn(`dicomweb: ${ORTHANC} or ${PLUGIN} is missing (apt-get install orthanc orthanc-dicomweb; .ci/run does); the PACS pull test is skipped`);

const freePort = () => new Promise<number>((resolve) => {
  const s = createNetServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address() as AddressInfo;
    s.close(() => resolve(port));
  });
});

describe.skipIf(!available)('fedrad data pull from Orthanc (DICOMweb)', () => {
  let dir: string;
  let orthanc: ChildProcess;
  let proxy: Server;
  let base: string;
  let proxyBase: string;
  const seriesA = writeSeries({ size: [16, 16, 4] });
  const seriesB = writeSeries({ size: [16, 16, 3] });
  const study = () => decodeDicomImage(Object.values(seriesA.files)[0], 'a').studyInstanceUid!;
  const failedOnce = new Set<string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedrad-orthanc-'));
    const port = await freePort();
    writeFileSync(join(dir, 'orthanc.json'), JSON.stringify({
      Name: 'fedrad-test', HttpPort: port, DicomServerEnabled: false, RemoteAccessAllowed: false, AuthenticationEnabled: false,
      StorageDirectory: join(dir, 'storage'), IndexDirectory: join(dir, 'storage'), Plugins: [PLUGIN], DicomWeb: { Enable: true, Root: '/dicom-web/' },
      HttpBindAddress: '127.0.0.1',
    }));
    orthanc = spawn(ORTHANC, [join(dir, 'orthanc.json')], { stdio: 'ignore' });
    base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${base}/system`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // series B joins series A's study, so one study holds two series
    const studyUid = study();
    const all = [...Object.values(seriesA.files), ...Object.values(seriesB.files).map((b) => {
      const other = decodeDicomImage(b, 'b').studyInstanceUid!;
      return new Uint8Array(Buffer.from(Buffer.from(b).toString('latin1').replace(other, studyUid.padEnd(other.length, '\0').slice(0, other.length)), 'latin1'));
    })];
    for (const bytes of all) {
      const res = await fetch(`${base}/instances`, { method: 'POST', body: Buffer.from(bytes) });
      expect(res.ok).toBe(true);
    }
    // a proxy that answers 503 to the first request of every URL
    proxy = createServer(async (req, res) => {
      if (!failedOnce.has(req.url!)) {
        failedOnce.add(req.url!);
        res.writeHead(503, 'Service Unavailable').end();
        return;
      }
      const upstream = await fetch(`${base}${req.url}`, { headers: { accept: String(req.headers.accept ?? '*/*') } });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    }).listen(0, '127.0.0.1');
    await new Promise((r) => proxy.once('listening', r));
    proxyBase = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    await loadCodecs();
  }, 30_000);

  afterAll(() => {
    orthanc?.kill('SIGTERM');
    proxy?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pulls a study through QIDO-RS and WADO-RS, retrying transient failures, and resumes where it stopped', async () => {
    const out = join(dir, 'site', 'data');
    const progress: number[] = [];
    const r = await pullDicomweb({ url: `${proxyBase}/dicom-web`, studies: [study()], out, backoffMs: 5, onProgress: (d) => progress.push(d) });
    expect(r).toMatchObject({ instances: 7, downloaded: 7, alreadyPresent: 0 });
    expect(progress.at(-1)).toBe(7);
    expect(failedOnce.size).toBeGreaterThanOrEqual(7); // every URL failed once and was retried
    const seriesDir = join(out, 'images', study(), seriesA.seriesInstanceUid);
    const pulled = readdirSync(seriesDir).sort();
    expect(pulled).toEqual(seriesA.sops.map((s) => `${s}.dcm`).sort());
    // the bytes are the ones stored: the pixels decode to what was sent
    const original = Object.values(seriesA.files).map((b) => decodeDicomImage(b, 'o')).find((i) => i.sopInstanceUid === seriesA.sops[1])!;
    const copy = decodeDicomImage(new Uint8Array(readFileSync(join(seriesDir, `${seriesA.sops[1]}.dcm`))), 'c');
    expect(Array.from(copy.stored!)).toEqual(Array.from(original.stored!));
    // a pull that stopped before one file: the second one fetches only that file
    unlinkSync(join(seriesDir, `${seriesA.sops[2]}.dcm`));
    const again = await pullDicomweb({ url: `${base}/dicom-web/`, studies: [study()], series: [seriesA.seriesInstanceUid], out });
    expect(again).toMatchObject({ instances: 4, downloaded: 1, alreadyPresent: 3 });
  });

  it('says clearly what is wrong: a bad UID, an unknown study, a URL that is not DICOMweb, a server that is down', async () => {
    const out = join(dir, 'other');
    await expect(pullDicomweb({ url: `${base}/dicom-web`, studies: ['1.2.abc'], out })).rejects.toThrow('study "1.2.abc" is not a DICOM UID (digits and dots, at most 64 characters)');
    const none = await pullDicomweb({ url: `${base}/dicom-web`, studies: ['1.2.3.4.5'], out });
    expect(none).toMatchObject({ instances: 0, downloaded: 0 });
    await expect(pullDicomweb({ url: `${base}/not-dicomweb`, studies: [study()], out, retries: 0 })).rejects.toThrow(/not-dicomweb\/studies\/[\d.]+\/series: HTTP 404 Not Found \(no such study, series or instance, or not a DICOMweb root\)$/);
    const dead = `http://127.0.0.1:${await freePort()}`;
    const err = await pullDicomweb({ url: dead, studies: [study()], out, retries: 1, backoffMs: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(DicomwebError);
    expect(err.message).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/studies\/[\d.]+\/series: .*ECONNREFUSED.* after 2 attempts$/);
  });

});

describe('a WADO-RS answer', () => {
  it('reads multipart/related bodies with quoted boundaries', () => {
    const body = new TextEncoder().encode('--abc\r\nContent-Type: application/dicom\r\n\r\nDATA1\r\n--abc\r\nContent-Type: application/dicom\r\n\r\nDATA2\r\n--abc--\r\n');
    expect(multipartParts(body, 'multipart/related; type="application/dicom"; boundary="abc"').map((p) => new TextDecoder().decode(p))).toEqual(['DATA1', 'DATA2']);
    expect(() => multipartParts(body, 'application/json')).toThrow('the WADO-RS answer is "application/json", not multipart/related with a boundary');
  });
});
