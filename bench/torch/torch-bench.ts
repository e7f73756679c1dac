// Starts bench/torch/train_server.py under a python that has PyTorch and talks to it line by line.
// The python: FEDRAD_TORCH_PYTHON, else Debian's /usr/bin/python3 (python3-torch installs there,
// not into a pyenv python first on PATH), else python3. When none imports torch and this is a
// Debian machine run as root, `apt-get install -y python3-torch` is tried once; otherwise the
// caller is told why the comparison is skipped.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const SERVER = join(import.meta.dirname, 'train_server.py');

export interface TorchBench {
  version: string;
  setup(cmd: { model: string; batch: number; inputSize: number; width: number; threads: number }): Promise<void>;
  time(seconds: number): Promise<{ imagesPerSecond: number; cpuMsPerImage: number; steps: number; loss: number }>;
  close(): Promise<void>;
}

function torchVersion(python: string): string | undefined {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function findPython(): { python: string; version: string } | undefined {
  const candidates = [process.env.FEDRAD_TORCH_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => Boolean(p));
  for (const python of candidates) {
    const version = torchVersion(python);
    if (version) return { python, version };
  }
  return undefined;
}

export async function startTorch(): Promise<TorchBench | { skipped: string }> {
  let found = findPython();
  if (!found && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    process.stderr.write('PyTorch not found: trying apt-get install -y python3-torch\n');
    spawnSync('apt-get', ['install', '-y', '-q', 'python3-torch'], { stdio: 'ignore', timeout: 900_000 });
    found = findPython();
  }
  if (!found) return { skipped: 'no python with torch (install Debian python3-torch, or set FEDRAD_TORCH_PYTHON); measuring ours alone' };
  const child: ChildProcessWithoutNullStreams = spawn(found.python, [SERVER], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ask = async (cmd: object): Promise<Record<string, unknown>> => {
    child.stdin.write(`${JSON.stringify(cmd)}\n`);
    const next = await lines.next();
    if (next.done) throw new Error(`the PyTorch bench process ended: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
    const reply = JSON.parse(next.value) as Record<string, unknown>;
    if (typeof reply.error === 'string') throw new Error(`the PyTorch bench failed: ${reply.error}`);
    return reply;
  };
  return {
    version: found.version,
    async setup(cmd) {
      await ask({ cmd: 'setup', ...cmd });
    },
    async time(seconds) {
      const r = await ask({ cmd: 'time', seconds });
      return { imagesPerSecond: Number(r.imagesPerSecond), cpuMsPerImage: Number(r.cpuMsPerImage), steps: Number(r.steps), loss: Number(r.loss) };
    },
    async close() {
      child.stdin.end();
      await new Promise((resolve) => child.once('close', resolve));
    },
  };
}
