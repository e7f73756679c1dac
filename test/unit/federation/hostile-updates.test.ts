// The gate against a corpus of hostile updates (test/support/hostile-updates.ts): every case is
// rejected with its reason code and one clear, escaped, bounded line; none crashes the gate; no
// message carries file contents. Valid updates of every zoo model are still accepted. And a
// property over random corruptions of a valid update: rejected with a known code, never a throw.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MESSAGE, REASON_CODES, validateUpdate } from '../../../lib/federation/validate-update.js';
import { sha256 } from '../../../lib/model/onnx-io.js';
import type { SiteOutcome } from '../../../lib/schemas/lineage.js';
import { isPlainText } from '../../../lib/util/untrusted-text.js';
import { GateFixture, HOSTILE, HOSTILE_CASES, runCase, SECRET } from '../../support/hostile-updates.js';

const roots: string[] = [];
async function fixture(zoo?: Parameters<typeof GateFixture.create>[1]): Promise<GateFixture> {
  const root = await mkdtemp(join(tmpdir(), 'fedrad-hostile-'));
  roots.push(root);
  return GateFixture.create(root, zoo);
}
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

/** One clear line: printable, bounded, no object dumps, no JS internals, no file contents. */
function expectClearReasons(outcome: SiteOutcome): void {
  expect(outcome.status).toBe('rejected');
  if (outcome.status !== 'rejected') return;
  for (const r of outcome.reasons) {
    expect([...REASON_CODES, 'more']).toContain(r.code);
    expect(r.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
    expect(isPlainText(r.message), r.message).toBe(true);
    expect(r.message).not.toMatch(/\[object Object\]|\bundefined\b|TypeError|RangeError|\n|at .*\.ts:\d+/);
    expect(r.message).not.toContain(SECRET);
  }
}

let f: GateFixture;
beforeAll(async () => {
  f = await fixture();
});

describe('the hostile-update corpus', () => {
  it('holds at least 60 distinct cases across every category', () => {
    expect(new Set(HOSTILE_CASES.map((c) => c.name)).size).toBe(HOSTILE_CASES.length);
    expect(HOSTILE_CASES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(HOSTILE_CASES.map((c) => c.category))).toEqual(new Set(['framing', 'header', 'metadata', 'tensors', 'values', 'round', 'manifest', 'storage']));
  });

  it.each(HOSTILE_CASES.map((c) => [c.name, c] as const))('rejects %s with its reason code and a clear line', async (_name, hc) => {
    const r = await runCase(f, hc);
    expect(r.threw).toBeUndefined();
    expectClearReasons(r.outcome!);
    expect(r.outcome!.status === 'rejected' && r.outcome!.reasons.map((x) => x.code)).toContain(hc.expect);
  });

  it('names the field and what would be right in the reasons people read most', async () => {
    const line = async (name: string) => {
      const r = await runCase(f, HOSTILE_CASES.find((c) => c.name === name)!);
      return r.outcome!.status === 'rejected' ? r.outcome!.reasons[0].message : '';
    };
    expect(await line('reversed data_offsets')).toMatch(/reversed data_offsets \[\d+, \d+\]: begin must not exceed end/);
    expect(await line('no data_offsets')).toMatch(/has no data_offsets; give \[begin, end\]/);
    expect(await line('negative seconds')).toMatch(/^update manifest field seconds: .*>=0/);
    expect(await line('a tensor named twice (last-wins in JSON.parse)')).toMatch(/appears twice .*each key must appear once/);
    expect(await line('__metadata__ a string')).toMatch(/__metadata__ is "site-b"; it must be an object of string values/);
    expect(await line('a tensor name with newlines forging a log line')).toContain('\\u000a{"level"');
    expect(await line('__metadata__ siteId with a terminal escape')).toContain("'\\u001b[2J\\u001b[Hsite-a'; it must be 'site-a' or absent");
    expect(await line('a metric name with an escape sequence')).toContain('\\u001b]0;pwned\\u0007acc');
  });
});

describe('memory', () => {
  // The gate reads a header of at most 1 MiB and one 1 MiB chunk of values at a time, whatever the
  // file claims (2^64-byte headers, 2^106-element shapes); the largest legal header (10,000 tensors)
  // costs the most, in its syntax tree. Bound: 128 MiB of peak RSS above the process's high-water
  // mark before the corpus, for the whole corpus in one process (measured: about 61 MiB).
  it('the whole corpus in one process stays under 128 MiB of peak RSS above where it started (npm run bench:gate)', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../../bench/gate.ts')], { encoding: 'utf8' });
    const summary = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ cases: HOSTILE_CASES.length, rejected: HOSTILE_CASES.length, withExpectedCode: HOSTILE_CASES.length, crashes: 0, accepted: 0 });
    expect(summary.corpusGrowthBytes).toBeLessThan(128 * 1024 * 1024);
  });
});

describe('valid updates', () => {
  it.each([
    ['cnn-classifier', { name: 'cnn-classifier' }],
    ['cnn-classifier with GroupNorm', { name: 'cnn-classifier', norm: 'group' as const }],
    ['unet-segmenter', { name: 'unet-segmenter' }],
  ])('of %s are accepted, with the version the gate read', async (_name, zoo) => {
    const g = await fixture(zoo);
    const bytes = g.validBytes();
    await g.writeSigned(bytes);
    const out = await validateUpdate(g.store, g.input());
    expect(out).toMatchObject({ siteId: HOSTILE, status: 'accepted', updateSha256: sha256(bytes), sampleCount: 50 });
    expect(out.status === 'accepted' && out.updateVersion).toMatch(/^file:/);
  });
});

describe('random corruptions of a valid update', () => {
  const valid = () => f.validBytes();
  const corruption = fc.oneof(
    // flip one byte anywhere (header, padding or data)
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
    // cut the file short, or append bytes
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
    // overwrite a run of bytes in the header with random printable JSON-ish characters
    fc.record({ kind: fc.constant('header' as const), at: fc.nat(), text: fc.string({ unit: fc.constantFrom(...'{}[]":,0123456789-eE.FDT_ \\u'), minLength: 1, maxLength: 12 }) }),
    // a header field replaced by any JSON value
    fc.record({ kind: fc.constant('field' as const), field: fc.constantFrom('dtype', 'shape', 'data_offsets'), value: fc.jsonValue({ maxDepth: 2 }) }),
  );
  // biome-ignore lint/suspicious/noExplicitAny: one of the corruption records above
  function corrupt(bytes: Uint8Array, c: any): Uint8Array {
    const headerEnd = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    switch (c.kind) {
      case 'flip': { const out = bytes.slice(); out[c.at % out.length] ^= c.xor; return out; }
      case 'truncate': return bytes.slice(0, c.at % bytes.length);
      case 'append': return Uint8Array.from([...bytes, ...c.bytes]);
      case 'header': { const out = bytes.slice(); const t = new TextEncoder().encode(c.text); out.set(t.subarray(0, Math.max(0, headerEnd - 8 - (c.at % (headerEnd - 8)))), 8 + (c.at % (headerEnd - 8))); return out; }
      case 'field': {
        const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, headerEnd)));
        const name = Object.keys(header).find((k) => k !== '__metadata__')!;
        header[name][c.field] = c.value;
        const text = new TextEncoder().encode(JSON.stringify(header));
        const out = new Uint8Array(8 + text.length + bytes.length - headerEnd);
        new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
        out.set(text, 8);
        out.set(bytes.subarray(headerEnd), 8 + text.length);
        return out;
      }
    }
    return bytes;
  }

  it('are rejected with a known reason code and a clear line, never a throw (manifest signs the original bytes)', async () => {
    const original = valid();
    await fc.assert(
      fc.asyncProperty(corruption, async (c) => {
        const bytes = corrupt(original, c);
        fc.pre(Buffer.compare(Buffer.from(bytes), Buffer.from(original)) !== 0);
        await f.reset();
        await f.writeUpdate(bytes);
        await f.writeManifest(f.manifest(original));
        expectClearReasons(await validateUpdate(f.store, f.input()));
      }),
      { numRuns: 150 },
    );
  });

  it('with a manifest re-signed to the corrupted bytes: rejected with a known code or, if still a well-formed finite update, accepted; never a throw', async () => {
    const original = valid();
    await fc.assert(
      fc.asyncProperty(corruption, async (c) => {
        const bytes = corrupt(original, c);
        await f.reset();
        await f.writeSigned(bytes);
        const out = await validateUpdate(f.store, f.input());
        if (out.status === 'accepted') expect(out.updateSha256).toBe(sha256(bytes));
        else expectClearReasons(out);
      }),
      { numRuns: 150 },
    );
  });
});

