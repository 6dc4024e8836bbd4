/// <reference types="node" />

import * as fs from 'fs';
import * as path from 'path';

import { nullTranslator } from '@jupyterlab/translation';

import {
  badgeLabel,
  badgeText,
  formatBytes,
  formatDuration,
  MINUS,
  peakMethodLabel,
  tooltipText
} from '../format';
import { makeRecord } from './fakes';

const trans = nullTranslator.load('jupyterlab_memory_doctor');

describe('formatBytes', () => {
  it('uses SI units with 2-3 significant digits', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1500)).toBe('1.5 kB');
    expect(formatBytes(412_000_000)).toBe('412 MB');
    expect(formatBytes(41_200_000)).toBe('41 MB');
    expect(formatBytes(1_234_000_000)).toBe('1.2 GB');
  });

  it('uses IEC units with powers of 1024', () => {
    expect(formatBytes(1024, 'IEC')).toBe('1.0 KiB');
    expect(formatBytes(412 * 1024 * 1024, 'IEC')).toBe('412 MiB');
    // An exact tie rounds to even, as the kernel helper's formatter does.
    expect(formatBytes(1.25 * 1024 ** 3, 'IEC')).toBe('1.2 GiB');
    expect(formatBytes(1.75 * 1024 ** 3, 'IEC')).toBe('1.8 GiB');
  });

  it("writes every figure exactly as the kernel helper's format_bytes", () => {
    // Written by tests/test_format.py from python/memory_doctor/format.py.
    const file = path.join(
      __dirname,
      '..',
      '..',
      'tests',
      'fixtures',
      'format',
      'bytes.json'
    );
    const { cases } = JSON.parse(fs.readFileSync(file, 'utf-8')) as {
      cases: [number, boolean, string][];
    };
    expect(cases.length).toBeGreaterThan(1000);
    const wrong = cases
      .map(([bytes, signed, text]) => [
        bytes,
        text,
        formatBytes(bytes, 'SI', { signed })
      ])
      .filter(([, text, ours]) => text !== ours);
    expect(wrong).toEqual([]);
  });

  it('moves to the next unit instead of showing four digits', () => {
    expect(formatBytes(999_700_000)).toBe('1.0 GB');
    expect(formatBytes(9_960_000)).toBe('10 MB');
  });

  it('signs figures on request and always marks negatives', () => {
    expect(formatBytes(412_000_000, 'SI', { signed: true })).toBe('+412 MB');
    expect(formatBytes(-3_100_000, 'SI', { signed: true })).toBe(
      `${MINUS}3.1 MB`
    );
    expect(formatBytes(-3_100_000)).toBe(`${MINUS}3.1 MB`);
    expect(formatBytes(0, 'SI', { signed: true })).toBe('0 B');
  });

  it('does not invent a number for non-finite input', () => {
    expect(formatBytes(NaN)).toBe('\u2014');
  });
});

describe('formatDuration', () => {
  it('picks ms, s or min', () => {
    expect(formatDuration(0.412)).toBe('412 ms');
    expect(formatDuration(4.12)).toBe('4.1 s');
    expect(formatDuration(125)).toBe('2 min 5 s');
  });
});

describe('badgeText', () => {
  it('shows the delta, then the peak increase', () => {
    expect(badgeText(makeRecord(), { units: 'SI', trans })).toBe(
      '+412 MB \u00b7 peak +1.2 GB'
    );
  });

  it('shows a negative delta with a minus sign', () => {
    const record = makeRecord({ rss_delta: -3_100_000, peak_increase: 0 });
    expect(badgeText(record, { units: 'SI', trans })).toBe(
      `${MINUS}3.1 MB \u00b7 peak 0 B`
    );
  });
});

describe('badgeLabel', () => {
  it('is a sentence for screen readers', () => {
    expect(badgeLabel(makeRecord(), { units: 'SI', trans })).toBe(
      'Memory: left +412 MB, peak +1.2 GB'
    );
    expect(
      badgeLabel(makeRecord({ status: 'error' }), { units: 'SI', trans })
    ).toContain('raised an error');
  });
});

describe('peakMethodLabel', () => {
  it('says exact or fallback', () => {
    expect(peakMethodLabel('vmhwm', trans)).toMatch(/^exact/);
    expect(peakMethodLabel('ru_maxrss', trans)).toMatch(/^fallback: /);
    expect(peakMethodLabel('none', trans)).toMatch(/^fallback: /);
  });
});

describe('tooltipText', () => {
  const options = { units: 'SI' as const, trans, historyLength: 5 };

  it('lists every figure of the last record', () => {
    const text = tooltipText(
      [makeRecord({ py_heap_delta: 5_000_000, py_heap_peak: 9_000_000 })],
      options
    );
    expect(text).toContain('RSS before: 105 MB');
    expect(text).toContain('RSS after: 517 MB');
    expect(text).toContain('RSS change: +412 MB');
    expect(text).toContain('Peak RSS: 1.3 GB');
    expect(text).toContain('Peak increase: +1.2 GB');
    expect(text).toContain('Peak method: exact');
    expect(text).toContain('Duration: 412 ms');
    expect(text).toContain('GC collections: 2');
    expect(text).toContain('Python heap change: +5.0 MB');
    expect(text).toContain('Python heap peak: +9.0 MB');
  });

  it('omits the Python heap when tracemalloc was off', () => {
    expect(tooltipText([makeRecord()], options)).not.toContain('Python heap');
  });

  it('labels a fallback peak method', () => {
    const text = tooltipText(
      [makeRecord({ peak_method: 'ru_maxrss' })],
      options
    );
    expect(text).toContain('Peak method: fallback: ');
  });

  it('lists the last N runs, newest first', () => {
    const history = [1, 2, 3, 4, 5, 6, 7].map(n =>
      makeRecord({ execution_count: n, rss_delta: n * 1_000_000 })
    );
    const text = tooltipText(history, { ...options, historyLength: 3 });
    const runs = text
      .split('\n')
      .filter(line => /^\[\d+\]/.test(line))
      .map(line => line.slice(0, 3));
    expect(runs).toEqual(['[7]', '[6]', '[5]']);
    expect(text).toContain('Last 3 runs, newest first:');
    expect(text.split('\n')[0]).toContain('[7]');
  });

  it('returns nothing for an empty history', () => {
    expect(tooltipText([], options)).toBe('');
  });
});
