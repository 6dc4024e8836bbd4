import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import { MemoryModel } from '../model';
import { PIP_INSTALL_HINT } from '../protocol';
import { MemoryDoctorSettings } from '../settings';
import { MemoryStatusItem, STATUS_CLASS, statusText } from '../status';
import type { IMemoryDoctorTracker } from '../tokens';

const trans = nullTranslator.load('jupyterlab_memory_doctor');

describe('statusText', () => {
  it('shows the RSS when ready', () => {
    const { text, title } = statusText(
      {
        kind: 'ready',
        peakMethod: 'vmhwm',
        peakExact: true,
        helperVersion: '0.1.0',
        python: '3.11.7'
      },
      1_234_000_000,
      'SI',
      trans
    );
    expect(text).toBe('Mem: 1.2 GB');
    expect(title).toContain('exact');
    expect(title).toContain('3.11.7');
  });

  it('says why there is no figure', () => {
    expect(statusText({ kind: 'connecting' }, null, 'SI', trans).text).toBe(
      'Mem: \u2014'
    );
    const missing = statusText(
      { kind: 'no-helper', hint: PIP_INSTALL_HINT },
      null,
      'SI',
      trans
    );
    expect(missing.text).toBe('Mem: helper missing');
    expect(missing.title).toContain(PIP_INSTALL_HINT);
    expect(
      statusText(
        { kind: 'mismatch', message: 'm 1.0 vs 2.0' },
        null,
        'SI',
        trans
      ).title
    ).toBe('m 1.0 vs 2.0');
    expect(statusText({ kind: 'dead' }, 5, 'SI', trans).text).toBe(
      'Mem: kernel dead'
    );
  });
});

describe('statusText headroom and death note', () => {
  const ready = {
    kind: 'ready' as const,
    peakMethod: 'vmhwm' as const,
    peakExact: true,
    helperVersion: '0.1.0',
    python: '3.11.7'
  };
  const limit = { bytes: 8_000_000_000, source: 'cgroup_v2' as const };

  it('shows the RSS against the limit and colours it as it gets close', () => {
    const at = (rss: number) =>
      statusText(ready, rss, 'SI', trans, { limit, warnPercent: 85 });
    const low = at(2_000_000_000);
    expect(low.text).toBe('Mem: 2.0 GB / 8.0 GB');
    expect(low.title).toContain("the container's cgroup limit (memory.max)");
    expect(low.title).toContain('25% used');
    expect(low.level).toBe('ok');
    expect(at(6_000_000_000).level).toBe('warn'); // 75 %, within 15 points
    expect(at(7_000_000_000).level).toBe('alert'); // 87.5 %
  });

  it('names physical memory and stays uncoloured without a limit', () => {
    const physical = statusText(ready, 1_000_000_000, 'SI', trans, {
      limit: { bytes: 16_000_000_000, source: 'physical' },
      warnPercent: 85
    });
    expect(physical.title).toContain("the machine's physical memory");
    const none = statusText(ready, 1_000_000_000, 'SI', trans, {
      limit: { bytes: null, source: 'unknown' },
      warnPercent: 85
    });
    expect(none.text).toBe('Mem: 1.0 GB');
    expect(none.level).toBe('ok');
  });

  it('shows the last RSS when the kernel is dead, and what was running', () => {
    const death = {
      time: 1795032010,
      cellId: 'cell-a',
      executionCount: 7,
      reading: { time: 1795032009, rss: 7_900_000_000, peakRss: 8_000_000_000 },
      limit
    };
    const dead = statusText({ kind: 'dead' }, null, 'SI', trans, { death });
    expect(dead.text).toBe('Mem: kernel dead \u00b7 last 7.9 GB');
    expect(dead.title).toContain('while cell [7] was running');
    expect(dead.title).toContain('RSS 7.9 GB, peak 8.0 GB');
    // After the automatic restart the figure is fresh; the note stays in the tooltip.
    const after = statusText(ready, 100_000_000, 'SI', trans, { death, limit });
    expect(after.text).toBe('Mem: 100 MB / 8.0 GB');
    expect(after.title).toContain('while cell [7] was running');
  });
});

describe('MemoryStatusItem', () => {
  it('follows the current notebook and its model', () => {
    const currentChanged = new Signal<object, unknown>({});
    const model = new MemoryModel();
    const settings = new MemoryDoctorSettings();
    const doctor = { current: null as unknown, currentChanged, settings };
    const item = new MemoryStatusItem({
      doctor: doctor as unknown as IMemoryDoctorTracker,
      trans
    });
    expect(item.hasClass(STATUS_CLASS)).toBe(true);
    expect(item.isActive()).toBe(false);
    let activeChanges = 0;
    item.activeStateChanged.connect(() => activeChanges++);
    doctor.current = { model };
    currentChanged.emit(doctor.current);
    expect(item.isActive()).toBe(true);
    expect(activeChanges).toBe(1);
    expect(item.node.textContent).toBe('Mem: \u2014');
    model.setStatus({
      kind: 'ready',
      peakMethod: 'none',
      peakExact: false,
      helperVersion: '0.1.0',
      python: '3.9.0'
    });
    model.setRss(2_000_000);
    expect(item.node.textContent).toBe('Mem: 2.0 MB');
    model.setMemoryLimit({ bytes: 2_200_000, source: 'cgroup_v1' });
    expect(item.node.textContent).toBe('Mem: 2.0 MB / 2.2 MB');
    expect(item.hasClass('jp-mod-alert')).toBe(true);
    model.setRss(1_000_000);
    expect(item.hasClass('jp-mod-alert')).toBe(false);
    expect(item.hasClass('jp-mod-warn')).toBe(false);
    model.setStatus({ kind: 'unsupported', reason: 'language' });
    expect(item.isActive()).toBe(false);
    item.dispose();
    model.dispose();
    settings.dispose();
  });
});
