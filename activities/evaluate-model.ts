/**
 * `evaluateModel` (CPU queue). PLACEHOLDER until ml/metrics lands: the real implementation
 * predicts the test images with ml/tpl and scores them under both protocols via ml/metrics.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { ActivityDeps } from './deps';
import type { EvaluateModelInput, EvaluateModelOutput } from './types';

export function createEvaluateModel(_deps: ActivityDeps) {
  return async function evaluateModel(_input: EvaluateModelInput): Promise<EvaluateModelOutput> {
    throw ApplicationFailure.nonRetryable('evaluateModel is not implemented yet (waiting for ml/metrics)', 'NotImplemented');
  };
}
