/**
 * What the service makes of replies that are not simply stored: an
 * `apply_fix` result or failure as a fix outcome, a failed scan as an error
 * (or nothing, when the connection went away).
 */

import { KernelClient } from './kernelClient';
import { FIX_ACTIONS, FixAction, IFixResult, ISuggestion } from './protocol';
import type { FixOutcome } from './panels/fixes/model';
import type { IScanError } from './panels/holders/scan';

/**
 * A well-formed copy of an `apply_fix` result: missing figures fall back to
 * the suggestion's own (the estimate) or to 0 (the measurement).
 */
export function normalizeFixResult(
  raw: unknown,
  suggestion: ISuggestion
): IFixResult {
  const value =
    typeof raw === 'object' && raw !== null
      ? (raw as Record<string, unknown>)
      : {};
  const number = (v: unknown) =>
    typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;
  const estimate = number(value.estimated_freed_bytes);
  return {
    suggestion_id: suggestion.id,
    action: FIX_ACTIONS.includes(value.action as FixAction)
      ? (value.action as FixAction)
      : suggestion.action,
    estimated_freed_bytes:
      'estimated_freed_bytes' in value
        ? estimate
        : suggestion.estimated_freed_bytes,
    measured_freed_bytes: number(value.measured_freed_bytes) ?? 0,
    rss_before: number(value.rss_before) ?? 0,
    rss_after: number(value.rss_after) ?? 0,
    explanation:
      typeof value.explanation === 'string' && value.explanation !== ''
        ? value.explanation
        : null
  };
}

/** A failed `apply_fix` request as an outcome (`refused` or `failed`). */
export function failedFix(
  suggestion: ISuggestion,
  reason: unknown
): FixOutcome {
  const { code, message } = KernelClient.failure(reason);
  return code === 'refused'
    ? { kind: 'refused', suggestion, message }
    : { kind: 'failed', suggestion, code, message };
}

/**
 * A failed scan as code and message (the reply's own message when it has
 * one), or null when the connection went away: the kernel status (stale,
 * dead, error) then tells the user more than the failure would.
 */
export function scanError(reason: unknown): IScanError | null {
  const failure = KernelClient.failure(reason);
  return failure.code === 'closed' || failure.code === 'not_connected'
    ? null
    : failure;
}
