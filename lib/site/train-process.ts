// Runs the training entrypoint (the container's command) as a child process with the job's
// environment: a training crash never takes the agent down, and heartbeats keep going while it trains.
import { spawn } from 'node:child_process';

export function runTrainingProcess(entrypoint: string, env: Record<string, string>, log: (line: string) => void = () => {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entrypoint], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => log(d.toString().trimEnd()));
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(stderr.trim().split('\n').slice(-2).join(' ') || `the training process exited with code ${code}`))));
  });
}
