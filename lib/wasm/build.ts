// `npm run build:wasm`: assembles every .wat of WASM_MODULES with wabt into its generated module.
import { readFile, writeFile } from 'node:fs/promises';
import { assembleWat, wasmModuleSource } from './assemble.js';
import { repoPath, WASM_MODULES } from './modules.js';

for (const m of WASM_MODULES) {
  const bytes = await assembleWat(m.wat, await readFile(repoPath(m.wat), 'utf8'));
  await writeFile(repoPath(m.generated), wasmModuleSource(m.wat, bytes, m.exportName));
  console.log(JSON.stringify({ wat: m.wat, generated: m.generated, bytes: bytes.length }));
}
