// Held-out metrics, pure functions: accuracy and ROC AUC for classification, Dice and IoU for
// segmentation (pooled over all pixels of the set, so images without a lesion count too).

export interface ClassificationMetrics {
  accuracy: number;
  rocAuc: number;
  count: number;
}

export interface SegmentationMetrics {
  dice: number;
  iou: number;
  count: number;
}

export type Metrics = ({ task: 'classification' } & ClassificationMetrics) | ({ task: 'segmentation' } & SegmentationMetrics);

/** ROC AUC by the rank-sum (Mann-Whitney U) statistic, ties counted half; NaN with one class only. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]] === 1) {
        positives++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** From per-sample class probabilities (N x K, row-major) and class labels. */
export function classificationMetrics(probs: Float32Array, classes: number, labels: ArrayLike<number>): ClassificationMetrics {
  const n = labels.length;
  let correct = 0;
  const positiveScore = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (probs[i * classes + k] > probs[i * classes + best]) best = k;
    if (best === labels[i]) correct++;
    positiveScore[i] = probs[i * classes + classes - 1];
  }
  const binaryLabels = Array.from(labels, (l) => (l === classes - 1 ? 1 : 0));
  return { accuracy: correct / n, rocAuc: rocAuc(positiveScore, binaryLabels), count: n };
}

/** From probabilities thresholded at 0.5 against 0/1 masks. */
export function segmentationMetrics(probs: Float32Array, masks: ArrayLike<number>, count: number): SegmentationMetrics {
  let inter = 0;
  let predicted = 0;
  let actual = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] >= 0.5 ? 1 : 0;
    const t = masks[i] >= 0.5 ? 1 : 0;
    inter += p & t;
    predicted += p;
    actual += t;
  }
  const union = predicted + actual - inter;
  return { dice: predicted + actual === 0 ? 1 : (2 * inter) / (predicted + actual), iou: union === 0 ? 1 : inter / union, count };
}
