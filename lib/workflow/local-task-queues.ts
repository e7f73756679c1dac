// The local runner's stand-in for SQS and Step Functions' task tokens (aws-local-stepfunctions runs
// neither callbacks nor activities): the round's "Ask the site's agent to train" state enqueues its
// message here and waits for the token's answer, failing on HeartbeatSeconds or TimeoutSeconds as the
// cloud would. Agents reach it over HTTP with the real AWS SDK clients (the JSON protocol of the few
// calls they make), so `fedrad site agent` runs unchanged against it.
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface QueuedMessage {
  id: string;
  body: string;
  receipt?: string;
  visibleAt: number;
}

interface PendingTask {
  resolve: (output: unknown) => void;
  reject: (err: Error) => void;
  heartbeatMs?: number;
  beatTimer?: NodeJS.Timeout;
  timeoutTimer?: NodeJS.Timeout;
}

function stateError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

class ApiError extends Error {
  constructor(readonly type: string, message: string) {
    super(message);
  }
}

export class LocalTaskQueues {
  private readonly queues = new Map<string, QueuedMessage[]>();
  private readonly tasks = new Map<string, PendingTask>();
  private readonly waiters = new Set<() => void>();
  private server?: Server;
  endpoint = '';

  /** Starts the HTTP endpoint on 127.0.0.1 (a free port). */
  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.endpoint;
  }

  async stop(): Promise<void> {
    for (const t of this.tasks.values()) this.clearTimers(t);
    for (const w of this.waiters) w();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  queueUrl(name: string): string {
    return `${this.endpoint}/000000000000/${name}`;
  }

  /** Enqueues a task message with a fresh token and waits for the agent's answer. */
  sendAndWait(queueUrl: string, body: Record<string, unknown>, limits: { heartbeatSeconds?: number; timeoutSeconds?: number }): Promise<unknown> {
    const token = randomUUID();
    return new Promise((resolve, reject) => {
      const task: PendingTask = { resolve, reject, heartbeatMs: limits.heartbeatSeconds ? limits.heartbeatSeconds * 1000 : undefined };
      this.tasks.set(token, task);
      this.beat(token);
      if (limits.timeoutSeconds) task.timeoutTimer = setTimeout(() => this.settle(token, stateError('States.Timeout', `no answer within ${limits.timeoutSeconds} s`)), limits.timeoutSeconds * 1000);
      this.push(queueUrl, JSON.stringify({ ...body, taskToken: token }));
    });
  }

  private push(queueUrl: string, body: string): void {
    const q = this.queues.get(queueUrl) ?? [];
    q.push({ id: randomUUID(), body, visibleAt: 0 });
    this.queues.set(queueUrl, q);
    for (const w of [...this.waiters]) w();
  }

  private clearTimers(t: PendingTask): void {
    clearTimeout(t.beatTimer);
    clearTimeout(t.timeoutTimer);
  }

  private beat(token: string): void {
    const t = this.tasks.get(token);
    if (!t) throw new ApiError('TaskTimedOut', 'the task is no longer waiting for an answer');
    clearTimeout(t.beatTimer);
    if (t.heartbeatMs) t.beatTimer = setTimeout(() => this.settle(token, stateError('States.HeartbeatTimeout', `no heartbeat within ${t.heartbeatMs! / 1000} s`)), t.heartbeatMs);
  }

  private settle(token: string, outcome: Error | { output: unknown }): void {
    const t = this.tasks.get(token);
    if (!t) throw new ApiError('TaskTimedOut', 'the task is no longer waiting for an answer');
    this.tasks.delete(token);
    this.clearTimers(t);
    if (outcome instanceof Error) t.reject(outcome);
    else t.resolve(outcome.output);
  }

  private async receive(queueUrl: string, waitSeconds: number, visibilitySeconds: number): Promise<QueuedMessage | undefined> {
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      const now = Date.now();
      const m = (this.queues.get(queueUrl) ?? []).find((x) => x.visibleAt <= now);
      if (m) {
        m.receipt = randomUUID();
        m.visibleAt = now + visibilitySeconds * 1000;
        return m;
      }
      if (now >= deadline || !this.server?.listening) return undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.waiters.delete(done);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, Math.min(250, deadline - now));
        this.waiters.add(done);
      });
    }
  }

  private byReceipt(queueUrl: string, receipt: string): QueuedMessage {
    const m = (this.queues.get(queueUrl) ?? []).find((x) => x.receipt === receipt);
    if (!m) throw new ApiError('ReceiptHandleIsInvalid', 'no message with this receipt handle');
    return m;
  }

  /** One call of the JSON protocol (X-Amz-Target: AmazonSQS.* or AWSStepFunctions.*). */
  async call(target: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const queueUrl = String(input.QueueUrl ?? '');
    switch (target) {
      case 'AmazonSQS.ReceiveMessage': {
        const m = await this.receive(queueUrl, Number(input.WaitTimeSeconds ?? 0), Number(input.VisibilityTimeout ?? 30));
        return m ? { Messages: [{ MessageId: m.id, ReceiptHandle: m.receipt, Body: m.body, MD5OfBody: createHash('md5').update(m.body).digest('hex') }] } : {};
      }
      case 'AmazonSQS.ChangeMessageVisibility':
        this.byReceipt(queueUrl, String(input.ReceiptHandle)).visibleAt = Date.now() + Number(input.VisibilityTimeout) * 1000;
        return {};
      case 'AmazonSQS.DeleteMessage': {
        const q = this.queues.get(queueUrl) ?? [];
        this.queues.set(queueUrl, q.filter((x) => x.receipt !== input.ReceiptHandle));
        return {};
      }
      case 'AWSStepFunctions.SendTaskHeartbeat':
        this.beat(String(input.taskToken));
        return {};
      case 'AWSStepFunctions.SendTaskSuccess':
        this.settle(String(input.taskToken), { output: JSON.parse(String(input.output ?? '{}')) });
        return {};
      case 'AWSStepFunctions.SendTaskFailure':
        this.settle(String(input.taskToken), stateError(String(input.error ?? 'States.TaskFailed'), String(input.cause ?? '')));
        return {};
      default:
        throw new ApiError('UnknownOperationException', `the local endpoint does not implement ${target.slice(0, 80)}`);
    }
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      const input = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
      reply(200, await this.call(String(req.headers['x-amz-target'] ?? ''), input));
    } catch (err) {
      const type = err instanceof ApiError ? err.type : 'InternalFailure';
      reply(err instanceof ApiError ? 400 : 500, { __type: type, message: (err as Error).message }, { 'x-amzn-query-error': `${type};Sender` });
    }
  }
}
