/**
 * What the service makes of failed requests: an `apply_fix` failure as a fix
 * outcome, a failed scan as an error (or nothing, when the connection went
 * away). Results arrive decoded by the client (`decodeResult`).
 */

import { KernelClient } from './kernelClient';
import type { ISuggestion } from './protocol';
import type { FixOutcome } from './panels/fixes/model';
import type { IScanError } from './panels/holders/scan';

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
