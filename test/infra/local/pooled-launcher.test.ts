import { describe, expect, it } from 'vitest';
import { pooledProcessLauncher } from '../../../infra/local/trainers.js';

// Whole training jobs through the pool run in test/e2e (simulate uses it); here, its contract.
describe('pooledProcessLauncher', () => {
  it('runs jobs on warm runners with the container job code: a bad job environment is exit code 2, named, and the runner keeps serving', async () => {
    const pool = pooledProcessLauncher({}, 1);
    try {
      const job = (site: string, extra: Record<string, string> = {}) => ({ jobName: `train-${site}`, jobDefinition: 'local', environment: { FEDRAD_SITE_ID: site, ...extra } });
      await expect(pool.launch(job('site-1'))).rejects.toThrow(/job train-site-1 exited with code 2: fedrad train-site: the job environment is invalid/);
      // One runner, two jobs in a row, each judged on its own environment only.
      await expect(pool.launch(job('site-2', { FEDRAD_ROUND: 'x' }))).rejects.toThrow(/job train-site-2 exited with code 2: .*FEDRAD_ROUND/);
      await expect(pool.launch(job('site-3'))).rejects.toThrow(/job train-site-3 exited with code 2/);
    } finally {
      pool.close();
    }
    await expect(pool.launch({ jobName: 'late', jobDefinition: 'local', environment: {} })).rejects.toThrow(/job late: the job runners are closed/);
  }, 60_000);
});
