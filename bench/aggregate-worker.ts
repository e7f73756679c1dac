// One aggregation, measured in its own process (bench/aggregate.ts starts it): the real
// aggregateRound over updates already in a folder store (the whole round: model read and hash,
// strategy, server step, model write), then the strategy stage alone over the same updates, then
// two baselines in the same process: a memory copy and a read of the same files.
import { readFileSync } from 'node:fs';
import { aggregateRound, openUpdates } from '../lib/federation/aggregate-round.js';
import type { AggregateInput } from '../lib/federation/round-state.js';
import { aggregateUpdates } from '../lib/federation/strategies/aggregate-updates.js';
import { FolderBlobStore } from '../lib/storage/folder-store.js';

const [root, inputJson] = process.argv.slice(2);
const input = JSON.parse(inputJson) as AggregateInput & { updateBytes: number; tensorSizes: Record<string, number> };
const store = new FolderBlobStore(root);
const rssBefore = process.memoryUsage().rss;
// RSS sampled every 5 ms during the aggregation (the kernel's maxRSS also counts start-up spikes)
let sampledPeak = rssBefore;
const sampler = setInterval(() => {
  sampledPeak = Math.max(sampledPeak, process.memoryUsage().rss);
}, 5);
const t0 = performance.now();
await aggregateRound(store, input);
const seconds = (performance.now() - t0) / 1000;
clearInterval(sampler);
// The peak RSS of this process's own address space: VmHWM (Linux). getrusage's maxRSS would report
// the parent's high-water mark here, which Linux carries across fork and exec.
const hwm = (() => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
})();
const peakRss = hwm ?? sampledPeak;
// The strategy stage alone: reading and combining the updates (what "bytes of updates consumed" times).
const accepted = input.outcomes as Parameters<typeof openUpdates>[2];
const refs = await openUpdates(store, input, accepted);
const s0 = performance.now();
await aggregateUpdates(input.strategy, refs, new Map(Object.entries(input.tensorSizes)), 'bench');
const strategySeconds = (performance.now() - s0) / 1000;
// Baseline: copying the same number of bytes from one buffer to another, in this process.
const chunk = new Float32Array(input.updateBytes / 4);
const dst = new Float32Array(chunk.length);
const copies = input.outcomes.length;
const c0 = performance.now();
for (let i = 0; i < copies; i++) {
  chunk[i] = i;
  dst.set(chunk);
}
const copySeconds = (performance.now() - c0) / 1000;
// Second baseline: reading the same update files from the store into one reused 16 MiB buffer.
const target = new Uint8Array(16 << 20);
const r0 = performance.now();
for (const ref of refs) {
  for (let start = 0; start < ref.reader.size; start += target.length) await ref.reader.readInto!(start, target.subarray(0, Math.min(target.length, ref.reader.size - start)));
}
const readSeconds = (performance.now() - r0) / 1000;
console.log(JSON.stringify({ seconds, strategySeconds, peakRss, sampledPeak, rssBefore, copyBytesPerSecond: (copies * input.updateBytes) / copySeconds, storeReadBytesPerSecond: (copies * input.updateBytes) / readSeconds }));
