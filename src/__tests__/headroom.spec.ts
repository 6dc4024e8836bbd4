import type { NotebookPanel } from '@jupyterlab/notebook';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import {
  formatAge,
  headroomLevel,
  headroomWarning,
  HeadroomWatcher,
  IHeadroomWarning,
  topHolders,
  usedPercent
} from '../headroom';
import { MemoryModel } from '../model';
import type { IHolder, IScanResult } from '../protocol';
import { MemoryDoctorSettings } from '../settings';
import type { IMemoryDoctorTracker } from '../tokens';

const trans = nullTranslator.load('jupyterlab_memory_doctor');
const GB = 1000 ** 3;
const LIMIT = { bytes: 8 * GB, source: 'cgroup_v2' as const };
const XSS = '<img src=x onerror=alert(1)>';

function holder(labels: string[], bytes: number): IHolder {
  return {
    id: labels[0],
    labels,
    kind: 'variable',
    roots: [],
    type: 'numpy.ndarray',
    retained_bytes: bytes,
    objects: 1,
    path: labels[0],
    cell_id: null,
    execution_count: null,
    composition: [],
    shared: labels.length > 1,
    device: null,
    file_backed: false
  };
}

describe('headroom figures', () => {
  it('computes the share of the limit, or none without one', () => {
    expect(usedPercent(2 * GB, LIMIT)).toBe(25);
    expect(usedPercent(null, LIMIT)).toBeNull();
    expect(usedPercent(GB, null)).toBeNull();
    expect(usedPercent(GB, { bytes: null, source: 'unknown' })).toBeNull();
  });

  it.each([
    [null, 'ok'],
    [69.9, 'ok'],
    [70, 'warn'],
    [84.9, 'warn'],
    [85, 'alert'],
    [120, 'alert']
  ])('rates %p %% as %s with an 85 %% warning', (percent, level) => {
    expect(headroomLevel(percent as number | null, 85)).toBe(level);
  });

  it('formats ages', () => {
    expect(formatAge(4_000, trans)).toBe('4 s');
    expect(formatAge(180_000, trans)).toBe('3 min');
    expect(formatAge(7_200_000, trans)).toBe('2 h');
  });
});

describe('headroomWarning', () => {
  const base = {
    rss: 7 * GB,
    limit: LIMIT,
    notebook: 'big.ipynb',
    now: 1_000_000,
    units: 'SI' as const,
    trans
  };

  it('names the largest holders of the last scan, largest first', () => {
    const holders = [
      holder(['small'], 1_000),
      holder(['big', 'Out[3]', '_3'], 4 * GB),
      holder(['cache'], 500_000_000),
      holder(['mid'], GB)
    ];
    const warning = headroomWarning({
      ...base,
      scan: { holders, time: 1_000_000 - 120_000 }
    });
    expect(warning.holders).toEqual([
      'big, Out[3], _3 4.0 GB',
      'mid 1.0 GB',
      'cache 500 MB'
    ]);
    expect(warning.message).toContain('big.ipynb uses 7.0 GB of its 8.0 GB');
    expect(warning.message).toContain('(88%)');
    expect(warning.message).toContain('(2 min ago)');
    expect(warning.message).toContain('big, Out[3], _3 4.0 GB');
  });

  it('points to the holders panel when there was no scan', () => {
    const warning = headroomWarning({ ...base, scan: null });
    expect(warning.holders).toEqual([]);
    expect(warning.message).toContain("Open What's holding memory");
  });

  it('keeps hostile names as they are (the toast shows text)', () => {
    expect(topHolders([holder([XSS], GB)], 'SI')).toEqual([`${XSS} 1.0 GB`]);
  });
});

describe('HeadroomWatcher', () => {
  function setup() {
    const panel = { title: { label: 'big.ipynb' } } as unknown as NotebookPanel;
    const model = new MemoryModel();
    const settings = new MemoryDoctorSettings();
    const scans = {
      stale: false,
      scannedAt: 0,
      result: {
        scan: {
          duration_s: 1,
          objects_visited: 1,
          complete: true,
          stopped: null
        },
        rss: 6 * GB,
        attributed_bytes: 5 * GB,
        unattributed_bytes: GB,
        holders: [holder(['frame'], 5 * GB)]
      } as IScanResult
    };
    const entryAdded = new Signal<object, unknown>({});
    const doctor = {
      get: (p: NotebookPanel) => (p === panel ? { model, scans } : undefined),
      entryAdded,
      settings
    } as unknown as IMemoryDoctorTracker;
    const warnings: IHeadroomWarning[] = [];
    const watcher = new HeadroomWatcher({
      doctor,
      notifier: { headroomWarning: w => warnings.push(w) },
      trans,
      now: () => 60_000
    });
    entryAdded.emit({ panel, model, scans });
    model.setMemoryLimit(LIMIT);
    return { model, scans, settings, warnings, watcher };
  }

  it('warns once when crossing the threshold, again after falling below', () => {
    const { model, settings, warnings, watcher } = setup();
    model.setRss(6 * GB); // 75 %
    expect(warnings).toHaveLength(0);
    model.setRss(7 * GB); // 87.5 %
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toContain('frame 5.0 GB');
    expect(warnings[0].message).toContain('(1 min ago)');
    model.setRss(7.5 * GB);
    model.setRss(6.7 * GB); // 83.75 %: above the re-arm line
    model.setRss(7.2 * GB);
    expect(warnings).toHaveLength(1);
    model.setRss(6 * GB); // 75 %: re-armed
    model.setRss(7 * GB);
    expect(warnings).toHaveLength(2);
    watcher.dispose();
    model.dispose();
    settings.dispose();
  });

  it('leaves out the holders of a scan from before a restart', () => {
    const { model, scans, warnings, watcher } = setup();
    scans.stale = true;
    model.setRss(7 * GB);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].holders).toEqual([]);
    expect(warnings[0].message).toContain("Open What's holding memory");
    watcher.dispose();
    model.dispose();
  });

  it('follows the threshold setting and live readings', () => {
    const { model, settings, warnings, watcher } = setup();
    settings.update({ ...settings.current, headroomWarnPercent: 50 });
    model.addReading({ time: 1, rss: 4.5 * GB, peakRss: null });
    expect(warnings).toHaveLength(1);
    watcher.dispose();
    model.dispose();
    settings.dispose();
  });
});
