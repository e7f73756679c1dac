// One aggregation, measured in its own process (bench/aggregate.ts starts it): the real
// aggregateRound over updates already in a folder store, then a memory-copy baseline.
import { aggregateRound } from '../lib/federation/aggregate-round.js';
import type { AggregateInput } from '../lib/federation/round-state.js';
import { FolderBlobStore } from '../lib/storage/folder-store.js';

const [root, inputJson] = process.argv.slice(2);
const input = JSON.parse(inputJson) as AggregateInput & { updateBytes: number };
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
const peakRss = process.resourceUsage().maxRSS * 1024;
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
// Second baseline: reading the same update files from the store in the same chunks, copying only.
const r0 = performance.now();
for (const site of input.sites.slice(0, copies)) {
  const key = `updates/runs/${input.runId}/rounds/0000/update.safetensors`;
  for (let start = 0; start < input.updateBytes; start += 16 << 20) dst.set(new Float32Array((await store.getRange(site.bucket, key, start, Math.min(start + (16 << 20), input.updateBytes))).slice(0, 4 * Math.floor(Math.min(16 << 20, input.updateBytes - start) / 4)).buffer).subarray(0, 1));
}
const readSeconds = (performance.now() - r0) / 1000;
console.log(JSON.stringify({ seconds, peakRss, sampledPeak, rssBefore, copyBytesPerSecond: (copies * input.updateBytes) / copySeconds, storeReadBytesPerSecond: (copies * input.updateBytes) / readSeconds }));
