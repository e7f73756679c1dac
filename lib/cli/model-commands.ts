// `fedrad model ...`: create zoo models and inspect ONNX model files.
import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { decodeModel, listInitializers, sha256, writeModel } from '../model/onnx-io.js';
import { buildZooModel, ZOO_NAMES } from '../model/zoo/index.js';
import { checkModel, formatModelCheck } from '../model/check-model.js';
import { InvalidSpecError } from '../errors.js';
import { ObjectExistsError, putOnce } from '../storage/blob-store.js';
import { storeFromEnv } from '../storage/store-from-env.js';
import { escapeUntrusted } from '../util/untrusted-text.js';
import { basename } from 'node:path';
import { LossNameSchema } from '../schemas/training-spec.js';
import { OnnxModelSchema } from '../schemas/run-input.js';

function positiveInt(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got '${value}'`);
    return n;
  };
}

export interface ModelSummary {
  file: string;
  sha256: string;
  bytes: number;
  opset: number;
  producer: string;
  inputs: Array<{ name: string; shape: Array<number | string> }>;
  outputs: Array<{ name: string; shape: Array<number | string> }>;
  initializers: Array<{ name: string; dtype: string; shape: number[]; size: number; role: string }>;
  /** trainable values (running statistics and constants excluded) */
  parameterCount: number;
  runningStatisticCount: number;
  nodeCount: number;
  metadata: Record<string, string>;
}

export async function summarizeModelFile(file: string): Promise<ModelSummary> {
  const bytes = await readFile(file);
  const model = decodeModel(bytes, file);
  const initializers = listInitializers(model).map((i) => ({ name: i.name, dtype: i.dtype, shape: i.dims, size: i.size, role: i.role }));
  const total = (role: string) => initializers.filter((i) => i.role === role).reduce((a, i) => a + i.size, 0);
  return {
    file,
    sha256: sha256(bytes),
    bytes: bytes.length,
    opset: model.opset,
    producer: model.producer,
    inputs: model.graph.inputs.map((v) => ({ name: v.name, shape: v.shape })),
    outputs: model.graph.outputs.map((v) => ({ name: v.name, shape: v.shape })),
    initializers,
    parameterCount: total('parameter'),
    runningStatisticCount: total('running-statistic'),
    nodeCount: model.graph.nodes.length,
    metadata: model.metadata,
  };
}

function printSummary(s: ModelSummary): void {
  const shape = (d: Array<number | string>) => `[${d.join(', ')}]`;
  const lines = [
    `file        ${s.file} (${s.bytes} bytes)`,
    `sha256      ${s.sha256}`,
    `opset       ${s.opset}   producer ${s.producer || '-'}   nodes ${s.nodeCount}`,
    ...s.inputs.map((v) => `input       ${v.name} ${shape(v.shape)}`),
    ...s.outputs.map((v) => `output      ${v.name} ${shape(v.shape)}`),
    ...Object.entries(s.metadata).map(([k, v]) => `metadata    ${k} = ${v}`),
    '',
  ];
  const width = Math.max(4, ...s.initializers.map((i) => i.name.length));
  lines.push(`${'name'.padEnd(width)}  ${'role'.padEnd(17)} dtype    ${'shape'.padEnd(18)} values`);
  for (const i of s.initializers) lines.push(`${i.name.padEnd(width)}  ${i.role.padEnd(17)} ${i.dtype.padEnd(8)} ${shape(i.shape).padEnd(18)} ${i.size}`);
  lines.push('', `parameters  ${s.parameterCount.toLocaleString('en-US')} trainable values (plus ${s.runningStatisticCount.toLocaleString('en-US')} running statistics) in ${s.initializers.length} initializers`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function addModelCommands(program: Command): void {
  const model = program.command('model').description('create and inspect ONNX global models');
  model
    .command('init')
    .description('write a zoo model with seeded initial weights')
    .requiredOption('--zoo <name>', `zoo model: ${ZOO_NAMES.join(' | ')}`)
    .requiredOption('--out <file>', 'ONNX file to write')
    .option('--seed <n>', 'seed of the initial weights', positiveInt('--seed'), 0)
    .option('--input-size <pixels>', 'square input size', positiveInt('--input-size'), 64)
    .option('--width <channels>', 'channels of the first stage', positiveInt('--width'))
    .action(async (o: { zoo: string; out: string; seed: number; inputSize: number; width?: number }) => {
      const m = buildZooModel(o.zoo, { seed: o.seed, inputSize: o.inputSize, width: o.width });
      const bytes = await writeModel(o.out, m);
      process.stdout.write(`wrote ${o.out}: ${o.zoo}, input [1, ${o.inputSize}, ${o.inputSize}], ${bytes.length} bytes, sha256 ${sha256(bytes)}\n`);
    });
  model
    .command('inspect')
    .description('list initializers, shapes, parameter count and SHA-256 of an ONNX model')
    .argument('<file>', 'ONNX model file')
    .option('--json', 'print one JSON object')
    .action(async (file: string, o: { json?: boolean }) => {
      const s = await summarizeModelFile(file);
      if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
      else printSummary(s);
    });
  model
    .command('check')
    .description('will this ONNX model train in fedrad? one training step on random input; the first blocking op and what to change, or the figures')
    .argument('<file>', 'ONNX model file (exported from PyTorch, MONAI, ...)')
    .addOption(new Option('--task <task>', 'override the task read from the output shape').choices(['classification', 'segmentation']))
    .addOption(new Option('--loss <loss>', "the loss (default: the task's)").choices([...LossNameSchema.options]))
    .option('--json', 'print one JSON object')
    .action(async (file: string, o: { task?: 'classification' | 'segmentation'; loss?: (typeof LossNameSchema.options)[number]; json?: boolean }) => {
      const c = await checkModel(await readFile(file), file, { task: o.task, loss: o.loss });
      process.stdout.write(o.json ? `${JSON.stringify(c)}\n` : `${formatModelCheck(c)}\n`);
      if (!c.trainable) process.exitCode = 2;
    });
  model
    .command('upload')
    .description("check an ONNX model and put it in the deployment's models bucket; prints the run input that federates it")
    .argument('<file>', 'ONNX model file')
    .requiredOption('--bucket <name>', "the deployment's models bucket (FEDRAD_STORAGE_ROOT selects a local folder, AWS_ENDPOINT_URL an S3-compatible endpoint)")
    .option('--key <key>', 'object key (default: models/<file name>)')
    .addOption(new Option('--task <task>', 'override the task read from the output shape').choices(['classification', 'segmentation']))
    .addOption(new Option('--loss <loss>', "the loss (default: the task's)").choices([...LossNameSchema.options]))
    .option('--json', 'print one JSON object')
    .action(async (file: string, o: { bucket: string; key?: string; task?: 'classification' | 'segmentation'; loss?: (typeof LossNameSchema.options)[number]; json?: boolean }) => {
      const bytes = new Uint8Array(await readFile(file));
      const c = await checkModel(bytes, file, { task: o.task, loss: o.loss });
      if (!c.trainable) {
        process.stdout.write(`${formatModelCheck(c)}\n`);
        throw new InvalidSpecError(`${escapeUntrusted(file, 200)} was not uploaded: fedrad cannot train it (see above)`, { file });
      }
      const key = o.key ?? `models/${basename(file).replace(/[^A-Za-z0-9._-]/g, '_')}`;
      const parsed = OnnxModelSchema.safeParse({ onnx: { key, sha256: c.sha256 } });
      if (!parsed.success) throw new InvalidSpecError(`--key ${escapeUntrusted(key, 200)}: ${parsed.error.issues[0].message}`, { key });
      const store = storeFromEnv();
      try {
        await putOnce(store, o.bucket, key, bytes, 'application/octet-stream');
      } catch (err) {
        if (err instanceof ObjectExistsError) throw new InvalidSpecError(`${o.bucket}/${escapeUntrusted(key, 200)} already holds another model, and runs pin models by hash: choose another --key`, { key }, { cause: err });
        throw err;
      }
      const runInput = { model: { onnx: { key, sha256: c.sha256 }, task: c.task, loss: c.loss } };
      if (o.json) process.stdout.write(`${JSON.stringify({ bucket: o.bucket, key, sha256: c.sha256, bytes: bytes.length, check: c, runInput })}\n`);
      else process.stdout.write(`${formatModelCheck(c)}\n\nuploaded to ${store.location} ${o.bucket}/${key}\nrun input:\n${JSON.stringify(runInput, null, 2)}\n`);
    });
}
