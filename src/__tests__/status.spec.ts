import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
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

describe('MemoryStatusItem', () => {
  it('follows the current notebook and its model', () => {
    const panel = {} as NotebookPanel;
    const currentChanged = new Signal<object, NotebookPanel | null>({});
    const notebooks = {
      currentWidget: null as NotebookPanel | null,
      currentChanged
    };
    const model = new MemoryModel();
    const settings = new MemoryDoctorSettings();
    const doctor = {
      get: (p: NotebookPanel) => (p === panel ? { model } : undefined),
      entryAdded: new Signal<object, NotebookPanel>({}),
      settings
    };
    const item = new MemoryStatusItem({
      notebooks: notebooks as unknown as INotebookTracker,
      doctor: doctor as unknown as IMemoryDoctorTracker,
      trans
    });
    expect(item.hasClass(STATUS_CLASS)).toBe(true);
    expect(item.isActive()).toBe(false);
    let activeChanges = 0;
    item.activeStateChanged.connect(() => activeChanges++);
    notebooks.currentWidget = panel;
    currentChanged.emit(panel);
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
    model.setStatus({ kind: 'unsupported', reason: 'language' });
    expect(item.isActive()).toBe(false);
    item.dispose();
    model.dispose();
    settings.dispose();
  });
});
