// The agent's channel in AWS: long-polls the site's SQS queue and answers with the task token through
// Step Functions (SendTaskHeartbeat/Success/Failure). The same clients reach the local runner's
// endpoint in `fedrad simulate` (it speaks the same JSON protocol for these calls).
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { ReceivedMessage, TaskChannel } from './task-channel.js';

export interface AwsTaskChannelOptions {
  queueUrl: string;
  region?: string;
  /** an endpoint for both services (the local runner's, or a private endpoint) */
  endpoint?: string;
  /** seconds a received task stays hidden; each heartbeat renews it */
  visibilitySeconds: number;
}

const bound = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

export class AwsTaskChannel implements TaskChannel {
  private readonly sqs: SQSClient;
  private readonly sfn: SFNClient;

  constructor(private readonly o: AwsTaskChannelOptions) {
    this.sqs = new SQSClient({ region: o.region, endpoint: o.endpoint });
    this.sfn = new SFNClient({ region: o.region, endpoint: o.endpoint });
  }

  get location(): string {
    return this.o.queueUrl;
  }

  async receive(waitSeconds: number): Promise<ReceivedMessage | undefined> {
    const out = await this.sqs.send(new ReceiveMessageCommand({ QueueUrl: this.o.queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: Math.min(20, waitSeconds), VisibilityTimeout: this.o.visibilitySeconds }));
    const m = out.Messages?.[0];
    return m?.Body !== undefined && m.ReceiptHandle ? { body: m.Body, receipt: m.ReceiptHandle } : undefined;
  }

  async heartbeat(taskToken: string, receipt: string): Promise<void> {
    await this.sfn.send(new SendTaskHeartbeatCommand({ taskToken }));
    await this.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.o.queueUrl, ReceiptHandle: receipt, VisibilityTimeout: this.o.visibilitySeconds }));
  }

  async succeed(taskToken: string, receipt: string, output: Record<string, unknown>): Promise<void> {
    await this.sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    await this.discard(receipt);
  }

  async fail(taskToken: string, receipt: string, error: string, cause: string): Promise<void> {
    await this.sfn.send(new SendTaskFailureCommand({ taskToken, error: bound(error, 256), cause: bound(cause, 32768) }));
    await this.discard(receipt);
  }

  async discard(receipt: string): Promise<void> {
    await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.o.queueUrl, ReceiptHandle: receipt }));
  }
}
