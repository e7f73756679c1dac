// Reads a round execution's Step Functions history as run events: which site is queued, submitted
// to Batch, finished, validated (accepted or rejected, with reasons) or failed. Map iterations
// interleave, so each event is tied to its site through its previousEventId chain.
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { ROUND_STATES, RUN_STATES } from '../workflow/state-names.js';
import type { RunEvent } from './run-view.js';

const parse = (s: string | undefined): Record<string, unknown> | undefined => {
  try {
    return s ? (JSON.parse(s) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

export function eventsFromRoundHistory(history: HistoryEvent[]): RunEvent[] {
  const siteOf = new Map<number, { siteId: string; round: number }>();
  const out: RunEvent[] = [];
  for (const h of history) {
    const at = h.timestamp ? new Date(h.timestamp).getTime() : undefined;
    const entered = h.stateEnteredEventDetails;
    let ref = h.previousEventId !== undefined ? siteOf.get(h.previousEventId) : undefined;
    if (entered && (entered.name === ROUND_STATES.train || entered.name === ROUND_STATES.validate)) {
      const input = parse(entered.input);
      const site = (input?.site as { siteId?: string } | undefined)?.siteId ?? (input?.siteId as string | undefined);
      if (typeof site === 'string' && typeof input?.round === 'number') ref = { siteId: site, round: input.round };
      if (ref && entered.name === ROUND_STATES.train) out.push({ type: 'job-queued', siteId: ref.siteId, round: ref.round, at });
    }
    if (!ref || h.id === undefined) continue;
    siteOf.set(h.id, ref);
    const { siteId, round } = ref;
    if (h.type === 'TaskSubmitted' && h.taskSubmittedEventDetails?.resourceType === 'batch') {
      const jobId = parse(h.taskSubmittedEventDetails.output)?.JobId;
      out.push({ type: 'job-runnable', siteId, round, at, ...(typeof jobId === 'string' ? { jobId } : {}) });
    }
    else if (h.type === 'TaskSucceeded' && h.taskSucceededEventDetails?.resourceType === 'batch') out.push({ type: 'job-finished', siteId, round, ok: true, at });
    else if ((h.type === 'TaskFailed' && h.taskFailedEventDetails?.resourceType === 'batch') || h.type === 'TaskTimedOut') {
      const d = h.taskFailedEventDetails ?? h.taskTimedOutEventDetails;
      const cause = parse(d?.cause) as { StatusReason?: string } | undefined;
      out.push({ type: 'job-finished', siteId, round, ok: false, error: [d?.error, cause?.StatusReason ?? d?.cause].filter(Boolean).join(': '), at });
    } else if (h.type === 'TaskStateExited' && h.stateExitedEventDetails?.name === ROUND_STATES.validate) {
      const o = parse(h.stateExitedEventDetails.output) as { status?: string; reasons?: Array<{ code: string; message: string }> } | undefined;
      if (o?.status) out.push({ type: 'site-validated', siteId, round, status: o.status, ...(o.reasons ? { reasons: o.reasons.map((r) => `${r.code}: ${r.message}`) } : {}), at });
    } else if (h.type === 'PassStateExited' && h.stateExitedEventDetails?.name === ROUND_STATES.recordFailure) {
      const o = parse(h.stateExitedEventDetails.output) as { error?: string } | undefined;
      if (!out.some((e) => e.type === 'job-finished' && e.siteId === siteId && e.round === round && !e.ok)) out.push({ type: 'job-finished', siteId, round, ok: false, error: o?.error ?? 'failed', at });
    }
  }
  return out;
}

export interface RunHistory {
  events: RunEvent[];
  /** the round child executions, in order */
  roundExecutions: string[];
}

/** The run execution's own history: what Prepare run resolved, and the rounds it started. */
export function readRunHistory(history: HistoryEvent[]): RunHistory {
  const events: RunEvent[] = [];
  const roundExecutions: string[] = [];
  for (const h of history) {
    const exited = h.stateExitedEventDetails;
    if (h.type === 'TaskStateExited' && exited?.name === RUN_STATES.prepare) {
      const o = parse(exited.output);
      if (o) events.push({ type: 'run-prepared', output: o });
    }
    if (h.type === 'TaskSubmitted' && h.taskSubmittedEventDetails?.resourceType === 'states') {
      const arn = parse(h.taskSubmittedEventDetails.output)?.ExecutionArn;
      if (typeof arn === 'string') roundExecutions.push(arn);
    }
  }
  return { events, roundExecutions };
}

/** The Batch jobs still waiting for their outcome: submitted, with no job-finished after them. */
export function pendingJobs(events: RunEvent[]): Array<{ jobId: string; siteId: string; round: number }> {
  const pending = new Map<string, { jobId: string; siteId: string; round: number }>();
  for (const e of events) {
    if (e.type === 'job-runnable' && e.jobId) pending.set(`${e.siteId}@${e.round}`, { jobId: e.jobId, siteId: e.siteId, round: e.round });
    else if (e.type === 'job-finished') pending.delete(`${e.siteId}@${e.round}`);
  }
  return [...pending.values()];
}
