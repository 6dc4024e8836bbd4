/**
 * The wire protocol between the JupyterLab extension and the kernel helper.
 *
 * Its one source is `python/memory_doctor/protocol/protocol.json`:
 * `jlpm build:protocol` generates `./generated.ts` (the types, every
 * constant, timing included, and a decoder per message and result) and the
 * helper's `generated.py` from it, and `jlpm lint:check` fails when either is
 * stale. `docs/protocol.md` explains the messages with examples.
 *
 * This module re-exports the generated one and adds what is not data: the
 * version check, reading one comm message (the hello's MAJOR version before
 * its shape) and the reply timeouts the timing constants imply.
 */

import {
  DecodeError,
  decodeKernelMessage,
  IDecodeOptions,
  KernelMessage,
  PROTOCOL_VERSION,
  REQUEST_TIMEOUT_S,
  SCAN_OVERRUN_S,
  SCAN_REPLY_GRACE_S
} from './generated';

export * from './generated';

/** Return the MAJOR part of a `MAJOR.MINOR` version string. */
export function major(version: string): string {
  return version.split('.', 1)[0];
}

/** Whether a peer speaking `version` can talk to this side. */
export function isCompatible(version: unknown): boolean {
  return (
    typeof version === 'string' && major(version) === major(PROTOCOL_VERSION)
  );
}

/** What one comm message from the kernel helper turned out to be. */
export type IncomingMessage =
  /** A message of this protocol, decoded. */
  | { kind: 'message'; message: KernelMessage }
  /** A `hello` of another MAJOR version: its other fields are not read. */
  | { kind: 'mismatch'; protocolVersion: string; helperVersion: string }
  /** A message type of a newer MINOR: log it and carry on. */
  | { kind: 'unknown'; type: string }
  /** Not a message of this protocol; `error` names the path that failed. */
  | { kind: 'malformed'; error: DecodeError };

/**
 * Read an untrusted comm payload. A `hello`'s version is compared before
 * anything else, since a helper of another MAJOR may shape it differently.
 * `options.onDrop` is told about each array item left out (records of a
 * `hello`): the message itself is still read.
 */
export function readKernelMessage(
  raw: unknown,
  options: IDecodeOptions = {}
): IncomingMessage {
  const hello = Private.helloVersions(raw);
  if (hello && !isCompatible(hello.protocolVersion)) {
    return { kind: 'mismatch', ...hello };
  }
  try {
    return { kind: 'message', message: decodeKernelMessage(raw, options) };
  } catch (error) {
    if (!(error instanceof DecodeError)) {
      throw error;
    }
    return error.unknownVariant
      ? { kind: 'unknown', type: String(error.actual) }
      : { kind: 'malformed', error };
  }
}

/**
 * Seconds to wait for the reply to a scan of `budgetS`: the helper may wait
 * `budgetS + SCAN_OVERRUN_S` for a running cell before the scan starts, and
 * run as long again, then assembles the result (`SCAN_REPLY_GRACE_S`).
 */
export function scanReplyTimeoutS(budgetS: number): number {
  return Math.max(
    REQUEST_TIMEOUT_S,
    2 * (budgetS + SCAN_OVERRUN_S) + SCAN_REPLY_GRACE_S
  );
}

namespace Private {
  /** The versions of a `hello` whose `protocol_version` is a string, else null. */
  export function helloVersions(
    raw: unknown
  ): { protocolVersion: string; helperVersion: string } | null {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      return null;
    }
    const value = raw as Record<string, unknown>;
    if (value.type !== 'hello' || typeof value.protocol_version !== 'string') {
      return null;
    }
    return {
      protocolVersion: value.protocol_version,
      helperVersion:
        typeof value.helper_version === 'string' ? value.helper_version : '?'
    };
  }
}
