// What an on-premises site's agent receives and how it answers: the task message the round machine
// sends (ids, keys and hashes only: an SQS message holds 256 KiB), and the small port the agent loop
// talks through (receive, heartbeat, succeed, fail), with adapters for AWS and for the local runner.
import { z } from 'zod';

export const AgentTaskSchema = z
  .object({
    version: z.literal(1),
    taskToken: z.string().min(1).max(2048),
    runId: z.string().min(1),
    round: z.number().int().min(0),
    rounds: z.number().int().min(1),
    siteId: z.string().min(1),
    siteBucket: z.string().min(3),
    modelsBucket: z.string().min(3),
    globalModelKey: z.string().min(1),
    globalModelSha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** the training spec as JSON, as the training job's environment takes it */
    trainingSpec: z.string().min(2),
    /** the run's strategy as the round state holds it (the site policy checks its type and DP) */
    strategy: z.object({ type: z.string(), dp: z.object({ noiseMultiplier: z.number() }).loose().optional() }).loose(),
  })
  .strict();
export type AgentTask = z.infer<typeof AgentTaskSchema>;

/** One received message: its body, and the handle that hides, extends or deletes it. */
export interface ReceivedMessage {
  body: string;
  receipt: string;
}

export interface TaskChannel {
  /** where the channel listens, for logs */
  readonly location: string;
  /** waits up to `waitSeconds` for one task message */
  receive(waitSeconds: number): Promise<ReceivedMessage | undefined>;
  /** tells the round the site is alive, and keeps the message hidden from other receivers */
  heartbeat(taskToken: string, receipt: string): Promise<void>;
  /** answers the task and removes its message */
  succeed(taskToken: string, receipt: string, output: Record<string, unknown>): Promise<void>;
  /** fails the task (the site fails for the round, with `error` as its reason) and removes its message */
  fail(taskToken: string, receipt: string, error: string, cause: string): Promise<void>;
  /** removes a message that cannot be answered (unreadable, no token) */
  discard(receipt: string): Promise<void>;
}

/** The task token is no longer valid: the round gave up on this site (heartbeat or timeout) or the run ended. */
export const isTaskGone = (err: unknown) => ['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken'].includes((err as Error)?.name);
