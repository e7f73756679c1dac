// Bounds on what Step Functions limits: history events per execution (25,000 for Standard) and
// payload size (256 KiB). Computed from the ASL itself, counting every retry as used (worst case).
import type { StateMachineDefinition } from 'aws-local-stepfunctions';

export const MAX_HISTORY_EVENTS = 25_000;
export const MAX_PAYLOAD_BYTES = 256 * 1024;

type State = Record<string, unknown> & { Type: string; Next?: string; End?: boolean; Retry?: Array<{ MaxAttempts?: number }> };

/** Events of one pass through a state, retries exhausted; `mapItems` iterations for a Map. */
function stateEvents(state: State, mapItems: number): number {
  const retries = (state.Retry ?? []).reduce((a, r) => a + (r.MaxAttempts ?? 3), 0);
  switch (state.Type) {
    case 'Task': {
      const sync = typeof state.Resource === 'string' && state.Resource.endsWith('.sync') ? 1 : 0;
      // Entered, Scheduled, Started, [Submitted], Succeeded, Exited; a failed attempt: Scheduled, Started, Failed
      return 5 + sync + 3 * retries;
    }
    case 'Map': {
      const processor = (state.ItemProcessor ?? state.Iterator) as StateMachineDefinition;
      // Entered, Started, Succeeded, Exited + per item: IterationStarted, IterationSucceeded, its states
      return 4 + mapItems * (2 + pathEvents(processor, mapItems));
    }
    default:
      return 2; // Pass, Choice, Succeed, Fail: Entered, Exited
  }
}

/** The longest path from StartAt to an end, following Next and Catch targets (no loops). */
function pathEvents(def: StateMachineDefinition, mapItems: number, start = def.StartAt, seen = new Set<string>()): number {
  const states = def.States as unknown as Record<string, State>;
  if (seen.has(start)) return 0;
  const state = states[start];
  const here = stateEvents(state, mapItems);
  const nexts = [state.Next, ...((state.Catch as Array<{ Next: string }> | undefined) ?? []).map((c) => c.Next)].filter((n): n is string => Boolean(n));
  const next = new Set(seen).add(start);
  return here + Math.max(0, ...nexts.map((n) => pathEvents(def, mapItems, n, next)));
}

export interface EventBound {
  round: number;
  run: number;
}

/** Worst-case history events of one round execution (sites) and of the run execution (rounds). */
export function historyEventBound(defs: { run: StateMachineDefinition; round: StateMachineDefinition }, rounds: number, sites: number, names: { loopState: string; choiceState: string }): EventBound {
  const round = 2 + pathEvents(defs.round, sites); // ExecutionStarted, ExecutionSucceeded
  const runStates = defs.run.States as unknown as Record<string, State>;
  const perRound = stateEvents(runStates[names.loopState], 0) + stateEvents(runStates[names.choiceState], 0);
  const fixed = 2 + pathEvents(defs.run, 0) - perRound; // the rest of the run, passed once
  return { round, run: fixed + rounds * perRound };
}
