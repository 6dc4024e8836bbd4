/**
 * The generated decoders read every message a real kernel sent (recorded by
 * tests/test_protocol_e2e.py into tests/fixtures/protocol/), reject malformed
 * variants of them naming the path that failed, and leave out what a reader
 * must leave out.
 */

/// <reference types="node" />

import * as fs from 'fs';
import * as path from 'path';

import {
  DecodeError,
  decodeKernelMessage,
  decodeResult,
  decodeScanResult,
  DEFAULT_CONFIG,
  DEFAULT_LEAK_THRESHOLD_BYTES,
  FIX_REPLY_TIMEOUT_S,
  FIX_WAIT_S,
  KERNEL_MESSAGES,
  KernelMessage,
  RequestType,
  REQUESTS,
  TERMINATE_WAIT_S
} from '../protocol';

const FIXTURES = path.join(
  __dirname,
  '..',
  '..',
  'tests',
  'fixtures',
  'protocol',
  'messages'
);

interface IFixture {
  name: string;
  request_type: RequestType | null;
  problems: string[];
  message: unknown;
}

function load(): IFixture[] {
  return fs
    .readdirSync(FIXTURES)
    .filter(file => file.endsWith('.json'))
    .sort()
    .map(file => ({
      name: file.replace(/\.json$/, ''),
      ...JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8'))
    }));
}

/** Decode a message as the client does: the envelope, then an ok reply's result. */
function decode(fixture: IFixture): KernelMessage {
  const message = decodeKernelMessage(fixture.message);
  if (message.type === 'reply' && message.ok && fixture.request_type) {
    decodeResult(fixture.request_type, message.result, { path: 'result' });
  }
  return message;
}

/** The DecodeError `run` throws. */
function failure(run: () => unknown): DecodeError {
  try {
    run();
  } catch (error) {
    if (error instanceof DecodeError) {
      return error;
    }
    throw error;
  }
  throw new Error('decoded without an error');
}

/** A fresh copy of a recorded message, to mutate. */
function recorded(name: string): Record<string, any> {
  const fixture = load().find(f => f.name === name);
  if (!fixture) {
    throw new Error(`no fixture ${name}`);
  }
  return JSON.parse(JSON.stringify(fixture.message));
}

describe('recorded messages', () => {
  const messages = load();

  it('has a fixture for every kernel message type and every result', () => {
    const types = new Set(
      messages.map(f => (f.message as { type: string }).type)
    );
    expect([...types].sort()).toEqual([...KERNEL_MESSAGES].sort());
    const results = new Set(
      messages
        .filter(f => (f.message as { ok?: boolean }).ok === true)
        .map(f => f.request_type)
    );
    expect([...results].sort()).toEqual([...REQUESTS].sort());
  });

  it.each(messages.map(f => [f.name, f]))('decodes %s', (_, fixture) => {
    expect(fixture.problems).toEqual([]);
    const message = decode(fixture);
    // A decoder copies what it knows; every recorded field is known.
    expect(message).toEqual(fixture.message);
    if (message.type === 'reply' && message.ok && fixture.request_type) {
      expect(decodeResult(fixture.request_type, message.result)).toEqual(
        message.result
      );
    }
  });
});

describe('malformed variants of recorded messages', () => {
  /** `[fixture, what to break, the path the error names, the result's request]`. */
  const cases: [string, (m: any) => void, string, RequestType | null][] = [
    ['hello', m => (m.pid = -1), 'KernelMessage.pid', null],
    ['hello', m => (m.peak_method = 'rss'), 'KernelMessage.peak_method', null],
    ['hello', m => delete m.config, 'KernelMessage.config', null],
    [
      'hello',
      m => (m.config.tracemalloc = 'yes'),
      'KernelMessage.config.tracemalloc',
      null
    ],
    [
      'cell_measured_growth_flagged',
      m => (m.record.growth.what_grew = 'x'),
      'KernelMessage.record.growth.what_grew',
      null
    ],
    [
      'cell_measured_tracemalloc',
      m => (m.record.py_heap_peak = -1),
      'KernelMessage.record.py_heap_peak',
      null
    ],
    ['error_bad_request', m => (m.code = 'oops'), 'KernelMessage.code', null],
    ['scan_progress', m => (m.phase = 'nap'), 'KernelMessage.phase', null],
    [
      'reply_refused',
      m => delete m.error.message,
      'KernelMessage.error.message',
      null
    ],
    [
      'reply_get_rss_live',
      m => (m.result.running.rss_before = '1'),
      'result.running.rss_before',
      'get_rss'
    ],
    [
      'reply_get_rss_idle',
      m => (m.result.memory_limit.source = 'guess'),
      'result.memory_limit.source',
      'get_rss'
    ],
    [
      'reply_scan',
      m => (m.result.scan.stopped = 'tired'),
      'result.scan.stopped',
      'scan'
    ],
    [
      'reply_scan',
      m => (m.result.findings.threads = 1.5),
      'result.findings.threads',
      'scan'
    ],
    [
      'reply_configure',
      m => (m.result.config.leak_threshold_bytes = -1),
      'result.config.leak_threshold_bytes',
      'configure'
    ],
    [
      'reply_cancel',
      m => (m.result.cancelled = 1),
      'result.cancelled',
      'cancel'
    ],
    [
      'reply_apply_fix',
      m => (m.result.action = 'rm_rf'),
      'result.action',
      'apply_fix'
    ]
  ];

  it.each(cases)(
    '%s: rejected at the path broken',
    (name, breakIt, at, type) => {
      const message = recorded(name);
      breakIt(message);
      // A reply is decoded in two steps, as the client does.
      if (type !== null) {
        expect(() => decodeKernelMessage(message)).not.toThrow();
      }
      const error = failure(() =>
        type === null
          ? decodeKernelMessage(message)
          : decodeResult(type, message.result, { path: 'result' })
      );
      expect(error.path).toBe(at);
      expect(error.message.startsWith(`${at}: expected `)).toBe(true);
      expect(error.unknownVariant).toBe(false);
    }
  );
});

describe('decoders', () => {
  it('name the path that failed, what was expected and what came', () => {
    const scan = recorded('reply_scan').result;
    scan.findings.open_fds = '12';
    const error = failure(() => decodeScanResult(scan));
    expect(error.path).toBe('ScanResult.findings.open_fds');
    expect(error.message).toBe(
      'ScanResult.findings.open_fds: expected null or an integer ≥ 0, got "12"'
    );
    const reply = recorded('reply_get_rss_live');
    delete reply.result.running.started_at;
    expect(
      failure(() => decodeResult('get_rss', reply.result, { path: 'result' }))
        .message
    ).toBe(
      'result.running.started_at: expected a number ≥ 0, got nothing (missing)'
    );
  });

  it('drop an invalid holder, resource or suggestion and say so', () => {
    const scan = recorded('reply_scan').result;
    scan.holders[0].retained_bytes = '12';
    scan.resources[0].kind = 'kind_of_a_newer_helper';
    scan.suggestions[1].id = scan.suggestions[0].id;
    const dropped: string[] = [];
    const result = decodeScanResult(scan, {
      onDrop: error => dropped.push(error.path)
    });
    expect(dropped).toEqual([
      'ScanResult.holders[0].retained_bytes',
      'ScanResult.resources[0].kind',
      'ScanResult.suggestions[1].id'
    ]);
    expect(result.holders).toHaveLength(scan.holders.length - 1);
    expect(result.resources).toHaveLength(scan.resources.length - 1);
    expect(result.suggestions).toHaveLength(scan.suggestions.length - 1);
  });

  it('leave out fields they do not know, and accept a 1.1 helper', () => {
    const older: Record<string, unknown> = {
      ...recorded('hello'),
      protocol_version: '1.1',
      future: 1
    };
    delete older.memory_limit;
    delete older.malloc_trim;
    const decoded = decodeKernelMessage(older);
    expect(decoded).not.toHaveProperty('future');
    expect(decoded).not.toHaveProperty('memory_limit');
  });

  it('tell a newer message type from a malformed message', () => {
    expect(
      failure(() => decodeKernelMessage({ type: 'frob' })).unknownVariant
    ).toBe(true);
    expect(failure(() => decodeKernelMessage({ type: 7 })).unknownVariant).toBe(
      false
    );
    const reply = failure(() =>
      decodeKernelMessage({ type: 'reply', ok: 'yes' })
    );
    expect(reply.path).toBe('KernelMessage.ok');
    expect(reply.unknownVariant).toBe(false);
  });
});

describe('constants', () => {
  it('let the front end wait as long as the helper may', () => {
    expect(FIX_REPLY_TIMEOUT_S).toBeGreaterThan(FIX_WAIT_S + TERMINATE_WAIT_S);
    expect(DEFAULT_CONFIG.leak_threshold_bytes).toBe(
      DEFAULT_LEAK_THRESHOLD_BYTES
    );
  });
});
