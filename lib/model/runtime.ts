// The onnxruntime-node adapter: session creation, execution-provider choice and tensor conversion.
// The only module of lib/model that imports onnxruntime-node.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelFormatError } from '../errors.js';
import { floatTensor, GraphBuilder, type Model, OPSET, type TensorData } from './graph.js';
import { encodeModel } from './onnx-io.js';

export type ExecutionProvider = 'cuda' | 'cpu';
export type OrtTensor = ort.Tensor;

export interface SessionOptions {
  /** onnxruntime intra-op threads; defaults to FEDRAD_THREADS or the machine's cores. */
  threads?: number;
  executionProvider?: ExecutionProvider;
  profile?: string;
}

let detected: ExecutionProvider | undefined;

/**
 * CUDA when this onnxruntime-node build can create a CUDA session (the GPU image installs the CUDA
 * provider at build time), CPU otherwise. FEDRAD_EXECUTION_PROVIDER=cpu|cuda forces one.
 */
export async function detectExecutionProvider(): Promise<ExecutionProvider> {
  const forced = process.env.FEDRAD_EXECUTION_PROVIDER;
  if (forced === 'cpu' || forced === 'cuda') return forced;
  if (detected) return detected;
  detected = 'cpu';
  // Probe only when the CUDA provider library was installed beside the binding (the GPU image);
  // elsewhere onnxruntime would print a load error for every probe.
  if (cudaProviderInstalled()) {
    try {
      const b = new GraphBuilder(['x']);
      b.opNamed('Identity', ['x'], ['y']);
      const probe: Model = { graph: { name: 'probe', nodes: b.nodes, inputs: [{ name: 'x', dtype: 'float32', shape: [1] }], outputs: [{ name: 'y', dtype: 'float32', shape: [1] }], initializers: new Map() }, opset: OPSET, producer: 'fedrad', metadata: {} };
      const s = await ort.InferenceSession.create(encodeModel(probe), { executionProviders: ['cuda'] });
      await s.release();
      detected = 'cuda';
    } catch {
      detected = 'cpu';
    }
  }
  return detected;
}

function cudaProviderInstalled(): boolean {
  try {
    const binding = dirname(createRequire(import.meta.url).resolve('onnxruntime-node'));
    const dir = join(binding, '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(dir, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

export function defaultThreads(): number {
  const env = Number(process.env.FEDRAD_THREADS);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

export async function createSession(model: Model | Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const ep = opts.executionProvider ?? (await detectExecutionProvider());
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  try {
    return await ort.InferenceSession.create(bytes, {
      executionProviders: ep === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      intraOpNumThreads: opts.threads ?? defaultThreads(),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      enableProfiling: opts.profile !== undefined,
      profileFilePrefix: opts.profile,
    });
  } catch (cause) {
    throw new ModelFormatError(`onnxruntime refused the model: ${(cause as Error).message}`, {}, { cause });
  }
}

export function toOrt(t: TensorData): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data, t.dims);
}

export function fromOrt(t: ort.Tensor): TensorData {
  if (t.type !== 'float32') throw new ModelFormatError(`expected a float32 tensor, got ${t.type}`, {});
  return { dtype: 'float32', dims: [...t.dims], data: t.data as Float32Array };
}

export function floatOrt(dims: number[], data: Float32Array): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function scalarOrt(value: number): ort.Tensor {
  return toOrt(floatTensor([], [value]));
}
