// State names of the two workflows. Researchers read them in the Step Functions console, and the
// local runner keys its task overrides by them: one list for both.
export const RUN_STATES = {
  prepare: 'Prepare run',
  round: 'Run round',
  nextRound: 'Next round?',
  finish: 'Finish run',
  failed: 'Run failed',
} as const;

export const ROUND_STATES = {
  map: 'Train at each site',
  train: 'Train at site',
  wherePlaced: 'Where does the site train?',
  trainInAccount: "Train in the hospital's account",
  askAgent: "Ask the site's agent to train",
  validate: 'Validate update',
  recordFailure: 'Record failed site',
  aggregate: 'Aggregate round',
  placement: 'Where to aggregate?',
  stageAggregation: 'Stage aggregation',
  aggregateOnBatch: 'Aggregate on Batch',
  loadAggregation: 'Load aggregation result',
} as const;
