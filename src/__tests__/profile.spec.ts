/**
 * Line profiles: the per-notebook model, the chart model (icicle columns),
 * the gutter model and its CodeMirror gutter, the panel section and the
 * service's requests. The profiles are real `cell_profile` messages recorded
 * by tests/test_profile_e2e.py (MEMORY_DOCTOR_WRITE_FIXTURES=1) into the
 * protocol fixtures.
 */

import * as fs from 'fs';
import * as path from 'path';

import { EditorState, StateEffect } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { nullTranslator } from '@jupyterlab/translation';

import { GUTTER_CLASS, showMarks } from '../gutters';
import { gutterMarks } from '../gutters/model';
import {
  icicleColumns,
  lineRows,
  PROFILE_ROOT_ID,
  ProfileModel,
  ProfileSection
} from '../panels/profile';
import {
  decodeKernelMessage,
  ICellProfileMessage,
  IProfile,
  IProfileStack
} from '../protocol';
import { MemoryDoctorSettings } from '../settings';
import type { IMemoryDoctorEntry } from '../tokens';
import { disposeClients, flush, makeClient, makeHello } from './fakes';

const trans = nullTranslator.load('jupyterlab_memory_doctor');

const FIXTURES = path.join(
  __dirname,
  '..',
  '..',
  'tests',
  'fixtures',
  'protocol',
  'messages'
);

/** A recorded message, decoded as the client decodes it. */
function recorded(backend: 'tracemalloc' | 'memray'): ICellProfileMessage {
  const name =
    backend === 'tracemalloc' ? 'cell_profile' : `cell_profile_${backend}`;
  const raw = JSON.parse(
    fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')
  ).message;
  const message = decodeKernelMessage(raw);
  if (message.type !== 'cell_profile') {
    throw new Error(`not a cell_profile: ${message.type}`);
  }
  return message;
}

/** What numpy says the test cell allocated (np.ones(n) holds 8n bytes). */
const A = 8_000_000;
const B = 16_000_000;
const T = 32_000_000;

function within(measured: number, truth: number): boolean {
  return Math.abs(measured - truth) <= 0.05 * truth;
}

describe('recorded profiles', () => {
  it.each(['tracemalloc', 'memray'] as const)(
    'decode, with each line of the %s run within 5 % of numpy',
    backend => {
      const { profile } = recorded(backend);
      expect(profile.backend).toBe(backend);
      const line = (n: number, scope = 'cell') =>
        profile.lines.find(l => l.line === n && l.scope === scope)!;
      expect(within(line(1).net_bytes, A)).toBe(true);
      expect(within(line(2).peak_bytes, B)).toBe(true);
      expect(within(line(3).peak_bytes, T)).toBe(true);
      expect(line(3).net_bytes).toBeLessThan(0.05 * T);
      expect(line(3, 'function').cell_id).toBe('define');
    }
  );
});

describe('ProfileModel', () => {
  it('keeps the latest profile, per cell, and the cells armed', () => {
    const model = new ProfileModel();
    const changes: string[] = [];
    model.changed.connect((_, change) => changes.push(change.kind));
    model.setArmed('main-tracemalloc', 'tracemalloc');
    expect(model.armed.get('main-tracemalloc')).toBe('tracemalloc');
    const message = recorded('tracemalloc');
    model.add(message, 1000);
    expect(model.armed.size).toBe(0); // the run happened
    expect(model.latest?.profile).toBe(message.profile);
    expect(model.forCell('main-tracemalloc')?.receivedAt).toBe(1000);
    // The defining cell's gutter shows the run that called its function.
    expect(model.latestTouching('define')?.profile).toBe(message.profile);
    expect(model.forCell('define')).toBeUndefined();
    model.setArmed('x', 'memray');
    model.markStale();
    expect(model.armed.size).toBe(0);
    expect(model.stale).toBe(true);
    model.clear();
    expect(model.latest).toBeNull();
    expect(changes).toEqual(['armed', 'profile', 'armed', 'stale', 'cleared']);
    model.dispose();
    model.dispose();
  });

  it('keeps at most MAX_RUNS profiles', () => {
    const model = new ProfileModel();
    const message = recorded('memray');
    for (let i = 0; i <= ProfileModel.MAX_RUNS; i++) {
      model.add({ ...message, cell_id: `c${i}` }, i);
    }
    expect(model.forCell('c0')).toBeUndefined();
    expect(model.forCell(`c${ProfileModel.MAX_RUNS}`)).toBeDefined();
  });

  it('lists the lines that allocated, function lines marked self', () => {
    const rows = lineRows(recorded('memray').profile);
    expect(rows.map(r => [r.line, r.self])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [3, true]
    ]);
    expect(rows[0].holders).toEqual(['a']);
    expect(rows.every(r => r.line > 0)).toBe(true);
  });
});

describe('icicleColumns', () => {
  it.each(['tracemalloc', 'memray'] as const)(
    'gives every parent at least its children (%s)',
    backend => {
      const { profile } = recorded(backend);
      const columns = icicleColumns(profile.stacks, 'run', 'SI');
      const value = new Map(
        columns.ids.map((id, i) => [id, columns.values[i]])
      );
      const children = new Map<string, number>();
      columns.parents.forEach((parent, i) => {
        if (parent) {
          children.set(parent, (children.get(parent) ?? 0) + columns.values[i]);
        }
      });
      for (const [parent, sum] of children) {
        expect(value.get(parent)).toBeGreaterThanOrEqual(sum);
      }
      const total = profile.stacks.reduce((s, x) => s + x.peak_bytes, 0);
      expect(value.get(PROFILE_ROOT_ID)).toBe(total);
      expect(within(total, profile.totals.peak_view_bytes)).toBe(true);
      // The three lines are the root's children.
      const lines = columns.ids.filter(
        (_, i) => columns.parents[i] === PROFILE_ROOT_ID
      );
      expect(lines.length).toBeGreaterThanOrEqual(3);
    }
  );

  it('merges shared prefixes, escapes labels and knows notebook lines', () => {
    const frame = (label: string, cellId: string | null, line: number) => ({
      label,
      file: '',
      line,
      function: '',
      cell_id: cellId,
      execution_count: cellId ? 2 : null
    });
    const stacks: IProfileStack[] = [
      {
        frames: [frame('In[2] 1: x = <b>', 'c', 1), frame('ones', null, 9)],
        peak_bytes: 300,
        peak_blocks: 1
      },
      {
        frames: [frame('In[2] 1: x = <b>', 'c', 1), frame('zeros', null, 4)],
        peak_bytes: 200,
        peak_blocks: 1
      }
    ];
    const columns = icicleColumns(stacks, 'run', 'SI');
    expect(columns.ids).toHaveLength(4);
    expect(columns.values).toEqual([500, 500, 300, 200]);
    expect(columns.labels[1]).toBe('In[2] 1: x = &lt;b&gt;');
    expect(columns.customdata[1]).toEqual({ cellId: 'c', line: 1 });
    expect(columns.customdata[2]).toBeNull();
    expect(columns.text[0]).toBe('500 B');
  });
});

describe('gutterMarks', () => {
  const options = { units: 'SI' as const, trans };

  it("marks a cell's lines with net and peak, and the function's cell with self", () => {
    const { profile } = recorded('memray');
    const marks = gutterMarks(profile, 'main-memray', options);
    expect(marks.map(m => m.line)).toEqual([1, 2, 3]);
    expect(marks[0].text).toBe('+8.0 MB \u00b7 8.0 MB');
    expect(marks[2].text).toMatch(/ \u00b7 32 MB$/);
    expect(marks[2].source).toBe('s = float(np.ones(4_000_000).sum())');
    expect(marks[0].title).toContain('memray');
    const defining = gutterMarks(profile, 'define', options);
    expect(defining).toHaveLength(1);
    expect(defining[0]).toMatchObject({ line: 3, self: true });
    expect(gutterMarks(profile, 'elsewhere', options)).toEqual([]);
  });

  it('shows a stale peak as a lower bound, in the chosen units', () => {
    const { profile } = recorded('tracemalloc');
    const stale: IProfile = { ...profile, peak_mode: 'stale' };
    const marks = gutterMarks(stale, 'main-tracemalloc', {
      units: 'IEC',
      trans
    });
    expect(marks[0].text).toMatch(/^\+7\.6 MiB \u00b7 \u2265 7\.6 MiB$/);
    expect(marks[0].title).toContain('Python allocators only');
  });
});

describe('the CodeMirror gutter', () => {
  function editor(doc: string): { view: EditorView; editor: unknown } {
    const parent = document.createElement('div');
    document.body.appendChild(parent);
    const view = new EditorView({
      state: EditorState.create({ doc }),
      parent
    });
    return {
      view,
      editor: {
        editor: view,
        injectExtension: (ext: any) =>
          view.dispatch({ effects: StateEffect.appendConfig.of(ext) })
      }
    };
  }

  function texts(view: EditorView): string[] {
    return Array.from(
      view.dom.querySelectorAll(`.${GUTTER_CLASS} .cm-gutterElement`)
    )
      .map(node => node.textContent ?? '')
      .filter(text => text !== '');
  }

  const source =
    'a = np.ones(1_000_000)\nb = make(2_000_000)\ns = float(np.ones(4_000_000).sum())\n';

  it('shows each line its figures, and clears on edit', () => {
    const { view, editor: cm } = editor(source);
    const marks = gutterMarks(recorded('memray').profile, 'main-memray', {
      units: 'SI',
      trans
    });
    const injected = new WeakSet<object>();
    expect(showMarks(cm, marks, injected)).toBe(true);
    expect(texts(view)).toEqual(marks.map(m => m.text));
    const figure = view.dom.querySelector('.jp-MemoryDoctor-profileFigure');
    expect(figure?.getAttribute('title')).toBe(marks[0].title);
    // Shown again: the extension is injected once.
    expect(showMarks(cm, marks, injected)).toBe(true);
    expect(texts(view)).toHaveLength(3);
    view.dispatch({ changes: { from: 0, insert: '# edited\n' } });
    expect(texts(view)).toEqual([]);
    view.destroy();
  });

  it('leaves out a line whose text changed since the run', () => {
    const { view, editor: cm } = editor(source.replace('make(', 'other('));
    const marks = gutterMarks(recorded('memray').profile, 'main-memray', {
      units: 'SI',
      trans
    });
    showMarks(cm, marks, new WeakSet());
    expect(texts(view)).toEqual([marks[0].text, marks[2].text]);
    view.destroy();
  });

  it('refuses an editor that is not CodeMirror', () => {
    expect(showMarks(null, [], new WeakSet())).toBe(false);
    expect(showMarks({}, [], new WeakSet())).toBe(false);
  });
});

describe('ProfileSection', () => {
  function entryWith(model: ProfileModel): IMemoryDoctorEntry {
    const cells = ['define', 'main-memray'].map(id => ({
      model: { id },
      editor: null
    }));
    return {
      panel: { content: { widgets: cells } },
      profiles: model,
      scans: {
        result: {
          holders: [{ labels: ['a'], retained_bytes: 8_000_096 }]
        }
      }
    } as unknown as IMemoryDoctorEntry;
  }

  it('shows the latest profile as a table, in words, and links holders', async () => {
    const settings = new MemoryDoctorSettings();
    const onHolder = jest.fn();
    const section = new ProfileSection({
      settings,
      trans,
      onHolder,
      loadPlotly: () => Promise.reject(new Error('offline'))
    });
    Object.defineProperty(section, 'isVisible', { get: () => true });
    const model = new ProfileModel();
    section.setEntry(entryWith(model));
    expect(section.node.textContent).not.toContain('No profile yet'); // collapsed
    section.setExpanded(true);
    expect(section.node.textContent).toContain('No profile yet');
    model.setArmed('main-memray', 'memray');
    expect(section.node.textContent).toContain('waiting for a run');
    model.add(recorded('memray'), 1);
    await flush();
    expect(section.expanded).toBe(true);
    const rows = section.node.querySelectorAll(
      '.jp-MemoryDoctor-profileLines tbody tr'
    );
    expect(rows).toHaveLength(4);
    expect(rows[0].textContent).toContain('+8.0 MB');
    expect(rows[3].textContent).toContain('(self)');
    expect(section.node.textContent).toContain('memray: every allocator');
    const holder = section.node.querySelector(
      '.jp-MemoryDoctor-profileHolder'
    ) as HTMLButtonElement;
    expect(holder.textContent).toBe('a (8.0 MB)');
    holder.click();
    expect(onHolder).toHaveBeenCalledWith('a');
    // The chart could not load: said in words, the table stays.
    expect(section.chart.node.textContent).toContain(
      'Could not load the chart'
    );
    section.dispose();
    section.dispose();
  });

  it('says Python allocators only for tracemalloc, and keeps user text as text', async () => {
    const section = new ProfileSection({
      settings: new MemoryDoctorSettings(),
      trans,
      loadPlotly: () => new Promise(() => undefined)
    });
    Object.defineProperty(section, 'isVisible', { get: () => true });
    const model = new ProfileModel();
    section.setEntry(entryWith(model));
    const message = recorded('tracemalloc');
    const hostile = '<img src=x onerror=alert(1)>';
    const first = message.profile.lines.findIndex(l => l.line === 1);
    message.profile.lines[first] = {
      ...message.profile.lines[first],
      source: hostile
    };
    model.add(message, 1);
    await flush();
    expect(section.node.textContent).toContain('Python allocators only');
    expect(section.node.textContent).toContain(hostile);
    expect(section.node.querySelector('img')).toBeNull();
    section.dispose();
  });
});

describe('the service', () => {
  afterEach(() => disposeClients());

  async function ready() {
    const harness = await makeClient();
    const comm = harness.kernel.lastComm();
    comm.receive(makeHello({ protocol_version: '1.3' }));
    await flush();
    return { ...harness, comm };
  }

  it('arms with profile_next, cancels, and keeps the cell_profile', async () => {
    const { service, comm } = await ready();
    const armed = service.profileNext('main-memray');
    const request = comm.lastRequest();
    expect(request).toMatchObject({
      type: 'profile_next',
      cell_id: 'main-memray',
      backend: 'auto'
    });
    comm.receive({
      type: 'reply',
      request_id: request.request_id,
      ok: true,
      result: { cell_id: 'main-memray', backend: 'memray' }
    });
    await expect(armed).resolves.toBe('memray');
    expect(service.profiles.armed.get('main-memray')).toBe('memray');
    comm.receive(recorded('memray'));
    await flush();
    expect(service.profiles.latest?.cellId).toBe('main-memray');
    expect(service.profiles.armed.size).toBe(0);

    const cancelled = service.cancelProfile('other');
    const cancel = comm.lastRequest();
    expect(cancel).toMatchObject({ type: 'profile_cancel', cell_id: 'other' });
    comm.receive({
      type: 'reply',
      request_id: cancel.request_id,
      ok: true,
      result: { cell_id: 'other', cancelled: false }
    });
    await expect(cancelled).resolves.toBe(false);
    service.clearFigures();
    expect(service.profiles.latest).toBeNull();
  });

  it('forgets the arms when the kernel restarts', async () => {
    const { service, kernel, context } = await ready();
    service.profiles.setArmed('c', 'tracemalloc');
    kernel.setStatus('restarting', context);
    await flush();
    expect(service.profiles.armed.size).toBe(0);
  });
});
