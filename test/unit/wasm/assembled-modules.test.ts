import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { allocateArena } from '../../../lib/federation/strategies/float-arena.js';
import { FLOAT_ARENA_WASM } from '../../../lib/federation/strategies/float-arena.wasm.js';
import { assembleWat, wasmModuleSource } from '../../../lib/wasm/assemble.js';
import { repoPath, WASM_MODULES } from '../../../lib/wasm/modules.js';

describe('WebAssembly modules from .wat', () => {
  it.each(WASM_MODULES.map((m) => [m.wat, m] as const))('%s: the generated module is the text assembled by wabt, byte for byte', async (_, m) => {
    const bytes = await assembleWat(m.wat, await readFile(repoPath(m.wat), 'utf8'));
    expect(await readFile(repoPath(m.generated), 'utf8')).toBe(wasmModuleSource(m.wat, bytes, m.exportName));
  });

  it('float-arena loads exactly the assembled float-arena.wat', async () => {
    const bytes = await assembleWat('float-arena.wat', await readFile(repoPath('lib/federation/strategies/float-arena.wat'), 'utf8'));
    expect(Buffer.from(FLOAT_ARENA_WASM).equals(Buffer.from(bytes))).toBe(true);
    expect(await readFile(repoPath('lib/federation/strategies/float-arena.ts'), 'utf8')).toMatch(/import \{ FLOAT_ARENA_WASM \} from '\.\/float-arena\.wasm\.js'/);
    expect(WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => e.name)).toEqual(['axpy', 'cmpx', 'sqdist']);
    // and the arena runs it: y += 2x over SIMD lanes and the tail
    const arena = allocateArena(new Map([['y', 6]]), 1, 6);
    expect(arena.simd).toBe(true);
    const y = arena.tensors.get('y')!;
    const x = arena.buffers[0];
    y.set([1, 2, 3, 4, 5, 6]);
    x.set([1, 1, 1, 1, 1, 1]);
    arena.axpy(y, 2, x);
    expect([...y]).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it('a changed .wat no longer matches the loaded bytes', async () => {
    const text = (await readFile(repoPath('lib/federation/strategies/float-arena.wat'), 'utf8')).replace('f32x4.pmin', 'f32x4.min');
    const bytes = await assembleWat('float-arena.wat', text);
    expect(Buffer.from(FLOAT_ARENA_WASM).equals(Buffer.from(bytes))).toBe(false);
  });

  it('names the line of a syntax error', async () => {
    await expect(assembleWat('bad.wat', '(module\n  (func (export "f") (param i32)\n    local.get 0\n    i32.frobnicate))')).rejects.toThrow(/bad\.wat:4/);
  });
});
