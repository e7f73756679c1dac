// The hostile-update corpus through the gate and the round-wide rules, in one process: one JSON line
// per case (its expected reason code, the codes it got, the first line a person reads) and a summary
// line with the crashes and the memory the whole corpus cost (this process's peak RSS, VmHWM, above
// its high-water mark once the fixture and one valid update were checked). `--table` prints Markdown.
//   npm run bench:gate [-- --table]
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { validateUpdate } from '../lib/federation/validate-update.js';
import { GateFixture, HOSTILE_CASES, runCase } from '../test/support/hostile-updates.js';

const { values: args } = parseArgs({ options: { table: { type: 'boolean', default: false } } });
const hwm = (): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;

const root = await mkdtemp(join(tmpdir(), 'fedrad-bench-gate-'));
try {
  const f = await GateFixture.create(root);
  await f.writeSigned(f.validBytes());
  const warm = await validateUpdate(f.store, f.input());
  if (warm.status !== 'accepted') throw new Error(`the valid update was not accepted: ${JSON.stringify(warm)}`);
  const before = hwm();
  const rows = [];
  for (const hc of HOSTILE_CASES) {
    const r = await runCase(f, hc);
    const reasons = r.outcome?.status === 'rejected' ? r.outcome.reasons : [];
    const row = { case: r.name, category: r.category, expected: r.expect, status: r.outcome?.status ?? 'crashed', codes: reasons.map((x) => x.code), line: reasons[0]?.message ?? r.threw ?? '', ok: !r.threw && reasons.some((x) => x.code === r.expect) };
    rows.push(row);
    if (!args.table) console.log(JSON.stringify(row));
  }
  const peak = hwm();
  const summary = { summary: true, cases: rows.length, rejected: rows.filter((r) => r.status === 'rejected').length, withExpectedCode: rows.filter((r) => r.ok).length, crashes: rows.filter((r) => r.status === 'crashed').length, accepted: rows.filter((r) => r.status === 'accepted').length, rssBeforeBytes: before, peakRssBytes: peak, corpusGrowthBytes: peak - before };
  if (args.table) {
    console.log('| # | category | case | expected | codes | first line |\n|---|---|---|---|---|---|');
    rows.forEach((r, i) => console.log(`| ${i + 1} | ${r.category} | ${r.case.replace(/\|/g, '\\|')} | ${r.expected} | ${r.codes.join(', ')} | ${r.line.replace(/\|/g, '\\|').slice(0, 110)} |`));
    console.log(`\n${JSON.stringify(summary)}`);
  } else console.log(JSON.stringify(summary));
} finally {
  await rm(root, { recursive: true, force: true });
}
