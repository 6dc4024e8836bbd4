import {
  isCompatible,
  major,
  PROTOCOL_VERSION,
  readKernelMessage,
  REQUEST_TIMEOUT_S,
  SCAN_OVERRUN_S,
  SCAN_REPLY_GRACE_S,
  scanReplyTimeoutS
} from '../protocol';
import { CLIENT_NAME, PACKAGE_VERSION } from '../tokens';
import pkg from '../../package.json';
import { makeHello, makeRecord } from './fakes';

describe('readKernelMessage', () => {
  it('decodes each well-formed message type', () => {
    const kinds = [
      makeHello(),
      { type: 'error', code: 'protocol_mismatch', message: 'no' },
      { type: 'cell_measured', record: makeRecord() },
      { type: 'reply', request_id: '1', ok: true, result: {} },
      {
        type: 'reply',
        request_id: null,
        ok: false,
        error: { code: 'bad_request', message: 'no' }
      }
    ].map(value => {
      const read = readKernelMessage(value);
      return read.kind === 'message' ? read.message.type : read.kind;
    });
    expect(kinds).toEqual([
      'hello',
      'error',
      'cell_measured',
      'reply',
      'reply'
    ]);
  });

  it('accepts a record without a cell id', () => {
    const read = readKernelMessage({
      type: 'cell_measured',
      record: makeRecord({ cell_id: null })
    });
    expect(read.kind).toBe('message');
  });

  it('checks the MAJOR version of a hello before its shape', () => {
    expect(
      readKernelMessage({ type: 'hello', protocol_version: '2.0' })
    ).toEqual({ kind: 'mismatch', protocolVersion: '2.0', helperVersion: '?' });
    expect(
      readKernelMessage(makeHello({ protocol_version: '1.9', extra: 1 })).kind
    ).toBe('message');
  });

  it('tells a newer message type from a malformed message', () => {
    expect(readKernelMessage({ type: 'frobnicate' })).toEqual({
      kind: 'unknown',
      type: 'frobnicate'
    });
  });

  it.each([
    ['null', null, 'KernelMessage: expected an object, got null'],
    ['a string', 'hello', 'KernelMessage: expected an object, got "hello"'],
    ['an array', [{ type: 'hello' }], 'KernelMessage: expected an object'],
    ['no type', { records: [] }, 'KernelMessage.type: expected one of'],
    [
      'hello without records',
      makeHello({ records: undefined }),
      'KernelMessage.records: expected an array'
    ],
    [
      'hello without a version',
      makeHello({ protocol_version: 1 }),
      'KernelMessage.protocol_version: expected a string'
    ],
    [
      'error without a message',
      { type: 'error', code: 'bad_request' },
      'KernelMessage.message: expected a string'
    ],
    [
      'error with an unknown code',
      { type: 'error', code: 'oops', message: 'no' },
      'KernelMessage.code: expected one of'
    ],
    [
      'a record with a string size',
      { type: 'cell_measured', record: makeRecord({ rss_delta: '5' as any }) },
      'KernelMessage.record.rss_delta: expected an integer, got "5"'
    ],
    [
      'a record with a bad status',
      { type: 'cell_measured', record: makeRecord({ status: 'maybe' as any }) },
      'KernelMessage.record.status: expected one of "ok", "error", got "maybe"'
    ],
    [
      'a record without an execution count',
      {
        type: 'cell_measured',
        record: makeRecord({ execution_count: null as any })
      },
      'KernelMessage.record.execution_count: expected an integer ≥ 0, got null'
    ],
    [
      'progress of an unknown phase',
      {
        type: 'scan_progress',
        request_id: '1',
        phase: 'nap',
        objects_visited: 1,
        elapsed_s: 0
      },
      'KernelMessage.phase: expected one of'
    ],
    [
      'reply without ok',
      { type: 'reply', request_id: '1' },
      'KernelMessage.ok: expected one of "true", "false", got nothing'
    ],
    [
      'ok reply without a request id',
      { type: 'reply', request_id: null, ok: true, result: {} },
      'KernelMessage.request_id: expected a string'
    ]
  ])('rejects %s, naming the path', (_, value, message) => {
    const read = readKernelMessage(value);
    expect(read.kind).toBe('malformed');
    if (read.kind === 'malformed') {
      expect(read.error.message).toContain(message);
    }
  });

  it('leaves out a malformed replayed record and reports it', () => {
    const dropped: string[] = [];
    const read = readKernelMessage(
      makeHello({
        records: [makeRecord(), makeRecord({ peak_method: 'guess' as any })]
      }),
      { onDrop: error => dropped.push(error.path) }
    );
    expect(read.kind === 'message' && read.message.type).toBe('hello');
    if (read.kind === 'message' && read.message.type === 'hello') {
      expect(read.message.records).toEqual([makeRecord()]);
    }
    expect(dropped).toEqual(['KernelMessage.records[1].peak_method']);
  });
});

describe('scanReplyTimeoutS', () => {
  it('covers a scan queued behind a cell and then run, both up to budget plus overrun', () => {
    expect(scanReplyTimeoutS(600)).toBe(
      2 * (600 + SCAN_OVERRUN_S) + SCAN_REPLY_GRACE_S
    );
    expect(scanReplyTimeoutS(0.001)).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_S);
  });
});

describe('isCompatible', () => {
  it('accepts the same major version with any minor', () => {
    expect(isCompatible(PROTOCOL_VERSION)).toBe(true);
    expect(isCompatible(`${major(PROTOCOL_VERSION)}.7`)).toBe(true);
  });

  it('rejects another major version or a non-string', () => {
    expect(isCompatible('2.0')).toBe(false);
    expect(isCompatible('0.9')).toBe(false);
    expect(isCompatible(1)).toBe(false);
    expect(isCompatible(undefined)).toBe(false);
  });
});

describe('package version', () => {
  it('matches package.json, the single version source', () => {
    expect(PACKAGE_VERSION).toBe(pkg.version);
    expect(CLIENT_NAME).toBe(`jupyterlab-memory-doctor ${pkg.version}`);
  });
});
