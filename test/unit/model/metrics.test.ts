import { describe, expect, it } from 'vitest';
import { classificationMetrics, rocAuc, segmentationMetrics } from '../../../lib/model/metrics.js';

describe('metrics', () => {
  it('ROC AUC counts ordered pairs, ties as half', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBeCloseTo(0.5, 12);
    expect(rocAuc([0.9, 0.8, 0.1], [1, 1, 0])).toBe(1);
    expect(rocAuc([0.2, 0.3], [1, 1])).toBeNaN();
  });

  it('accuracy takes the argmax class, AUC the last class probability', () => {
    const probs = Float32Array.from([0.9, 0.1, 0.3, 0.7, 0.6, 0.4, 0.2, 0.8]);
    const m = classificationMetrics(probs, 2, [0, 1, 1, 1]);
    expect(m.accuracy).toBe(0.75);
    expect(m.rocAuc).toBe(1);
  });

  it('Dice and IoU pool pixels over the set', () => {
    const probs = Float32Array.from([0.9, 0.9, 0.1, 0.1, 0.6, 0.2]);
    const masks = [1, 0, 0, 1, 1, 0];
    const m = segmentationMetrics(probs, masks, 2);
    // predicted {0,1,4}, actual {0,3,4}: intersection 2
    expect(m.dice).toBeCloseTo((2 * 2) / 6, 12);
    expect(m.iou).toBeCloseTo(2 / 4, 12);
  });
});
