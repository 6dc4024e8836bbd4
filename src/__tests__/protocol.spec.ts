import {
  isCompatible,
  major,
  parseKernelMessage,
  PROTOCOL_VERSION
} from '../protocol';
import { CLIENT_NAME, PACKAGE_VERSION } from '../tokens';
import pkg from '../../package.json';
import { makeHello, makeRecord } from './fakes';

describe('parseKernelMessage', () => {
  it('accepts each well-formed message type', () => {
    expect(parseKernelMessage(makeHello())?.type).toBe('hello');
    expect(
      parseKernelMessage({
        type: 'error',
        code: 'protocol_mismatch',
        message: 'no'
      })?.type
    ).toBe('error');
    expect(
      parseKernelMessage({ type: 'cell_measured', record: makeRecord() })?.type
    ).toBe('cell_measured');
    expect(
      parseKernelMessage({
        type: 'reply',
        request_id: '1',
        ok: true,
        result: {}
      })?.type
    ).toBe('reply');
  });

  it('accepts a record without a cell id', () => {
    const message = parseKernelMessage({
      type: 'cell_measured',
      record: makeRecord({ cell_id: null })
    });
    expect(message).not.toBeNull();
  });

  it.each([
    ['null', null],
    ['a string', 'hello'],
    ['an array', [{ type: 'hello' }]],
    ['no type', { records: [] }],
    ['an unknown type', { type: 'frobnicate' }],
    ['hello without records', makeHello({ records: undefined })],
    ['hello without a version', makeHello({ protocol_version: 1 })],
    ['error without a message', { type: 'error', code: 'bad_request' }],
    [
      'a record with a string size',
      { type: 'cell_measured', record: makeRecord({ rss_delta: '5' as any }) }
    ],
    [
      'a record with a bad status',
      { type: 'cell_measured', record: makeRecord({ status: 'maybe' as any }) }
    ],
    ['reply without ok', { type: 'reply', request_id: '1' }]
  ])('rejects %s', (_, value) => {
    expect(parseKernelMessage(value)).toBeNull();
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
