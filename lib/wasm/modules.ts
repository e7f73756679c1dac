// The WebAssembly modules of the code base: each .wat source and the generated TypeScript module
// holding its assembled bytes (what the code loads). `npm run build:wasm` regenerates them.
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export const WASM_MODULES = [
  { wat: 'lib/federation/strategies/float-arena.wat', generated: 'lib/federation/strategies/float-arena.wasm.ts', exportName: 'FLOAT_ARENA_WASM' },
] as const;

export const repoPath = (p: string) => join(ROOT, p);
