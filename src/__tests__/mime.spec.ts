/**
 * The renderer of the magics' outputs, on outputs a real kernel made
 * (recorded by tests/test_magics_nbclient.py into tests/fixtures/mime/):
 * every view is read and drawn, user strings stay text, holders are the
 * panel's sortable table whose rows lead to their cells, and Apply goes
 * through the notebook's service with the panel's confirmation.
 */

/// <reference types="node" />

import * as fs from 'fs';
import * as path from 'path';

import { MimeModel } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import {
  createOutputFactory,
  MIME_TYPE,
  MemoryOutputWidget,
  OUTPUT_RANK,
  OutputError,
  readOutput
} from '../mime';
import { MemoryDoctorSettings } from '../settings';
import type { IMemoryDoctorEntry } from '../tokens';
import { flush } from './fakes';
import {
  answerFix,
  connect,
  IConnected,
  makeFixResult,
  trans,
  usePanelHooks,
  XSS
} from './panel-fakes';

usePanelHooks();

const FIXTURES = path.join(__dirname, '..', '..', 'tests', 'fixtures', 'mime');

/** A recorded output's data (a fresh copy). */
function fixture(name: string): Record<string, any> {
  return JSON.parse(
    fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf-8')
  );
}

/** The hello's pid in the fakes: an output "of this kernel" carries it. */
const PID = 4242;

interface IHarness {
  widget: MemoryOutputWidget;
  confirms: string[];
  revealed: string[];
  answer: { accept: boolean };
}

const widgets: Widget[] = [];
afterEach(() => {
  for (const widget of widgets.splice(0)) {
    if (widget.isAttached) {
      Widget.detach(widget);
    }
    widget.dispose();
  }
});

/** Draw `data` in a renderer whose notebook is `entry` (or none), attached. */
async function render(
  data: Record<string, any>,
  entry: IMemoryDoctorEntry | null = null,
  extra: Record<string, unknown> = {}
): Promise<IHarness> {
  const confirms: string[] = [];
  const revealed: string[] = [];
  const answer = { accept: true };
  const widget = new MemoryOutputWidget({
    findEntry: () => entry,
    settings: new MemoryDoctorSettings(),
    trans,
    copy: () => undefined,
    reveal: (_, cellId) => {
      revealed.push(cellId);
      return Promise.resolve(true);
    },
    confirm: suggestion => {
      confirms.push(suggestion.id);
      return Promise.resolve(answer.accept);
    },
    insert: () => undefined
  });
  widgets.push(widget);
  await widget.renderModel(
    new MimeModel({ data: { [MIME_TYPE]: data, ...extra } as any })
  );
  Widget.attach(widget, document.body);
  await flush();
  return { widget, confirms, revealed, answer };
}

const buttons = (widget: Widget, name: RegExp) =>
  Array.from(widget.node.querySelectorAll<HTMLButtonElement>('button')).filter(
    b => name.test(b.getAttribute('aria-label') ?? b.textContent ?? '')
  );
const rowNames = (widget: Widget) =>
  Array.from(
    widget.node.querySelectorAll<HTMLElement>('.jp-MemoryDoctor-holderLabel')
  ).map(label => label.textContent);

describe('readOutput', () => {
  const views = fs
    .readdirSync(FIXTURES)
    .filter(name => name.endsWith('.json'))
    .map(name => name.replace(/\.json$/, ''));

  it('reads every view a real kernel made', () => {
    expect(views.sort()).toEqual(
      [
        'badge',
        'cell',
        'cells',
        'fix_applied',
        'fix_preview',
        'holders',
        'holders_hostile',
        'notice',
        'resources',
        'summary'
      ].sort()
    );
    for (const name of views) {
      const raw = fixture(name);
      expect(readOutput(raw).view).toBe(raw.view);
    }
  });

  it('refuses another format and malformed data, naming what is wrong', () => {
    expect(() => readOutput({ ...fixture('summary'), format: 2 })).toThrow(
      /format 2/
    );
    expect(() => readOutput({ ...fixture('summary'), view: 'graph' })).toThrow(
      OutputError
    );
    const broken = fixture('holders');
    broken.scan.rss = 'a lot';
    expect(() => readOutput(broken)).toThrow(/rss/);
    // A malformed holder costs that holder, as in the panel.
    const one = fixture('holders');
    one.scan.holders[0].retained_bytes = 'a lot';
    expect((readOutput(one) as any).scan.holders).toHaveLength(
      one.scan.holders.length - 1
    );
    expect(() => readOutput('text')).toThrow(OutputError);
  });
});

describe('the renderer', () => {
  it('is a safe factory ranked before HTML', () => {
    const factory = createOutputFactory({
      findEntry: () => null,
      settings: new MemoryDoctorSettings(),
      trans,
      copy: () => undefined,
      reveal: () => Promise.resolve(false)
    });
    expect(factory.safe).toBe(true);
    expect(factory.mimeTypes).toEqual([MIME_TYPE]);
    expect(OUTPUT_RANK).toBeLessThan(50);
  });

  it('draws every recorded view without markup from the kernel', async () => {
    for (const name of fs.readdirSync(FIXTURES)) {
      const { widget } = await render(fixture(name.replace(/\.json$/, '')));
      expect(widget.output).not.toBeNull();
      expect(widget.node.querySelector('img, script, iframe')).toBeNull();
      expect(widget.node.textContent!.length).toBeGreaterThan(0);
    }
  });

  it('keeps user strings as text: names, paths and the filter', async () => {
    const data = fixture('holders_hostile');
    expect(JSON.stringify(data)).toContain(XSS);
    const { widget } = await render(data);
    expect(widget.node.querySelector('img')).toBeNull();
    expect(rowNames(widget)).toContain(XSS);
    expect(widget.node.textContent).toContain('"<img"');
  });

  it('keeps a hand-made hostile string as text in every field it reaches', async () => {
    const data = fixture('summary');
    data.scan.holders[0].labels = [XSS];
    data.scan.holders[0].roots[0].label = XSS;
    data.scan.holders[0].type = `<script>alert(1)</script>`;
    data.scan.suggestions[0].code = `del ${XSS}`;
    data.scan.suggestions[0].reason = XSS;
    const { widget } = await render(data);
    expect(widget.node.querySelector('img, script')).toBeNull();
    expect(widget.node.textContent).toContain(XSS);
    expect(widget.node.textContent).toContain('<script>alert(1)</script>');
  });

  it('shows resources and findings in %memory resources only', async () => {
    const holders = await render(fixture('holders'));
    expect(
      holders.widget.node.querySelector('.jp-MemoryDoctor-resources')
    ).toBeNull();
    const resources = await render(fixture('resources'));
    const section = resources.widget.node.querySelector(
      '.jp-MemoryDoctor-resources'
    );
    expect(section?.textContent).toContain('log');
  });

  it('shows the text the kernel sent when it cannot read the data', async () => {
    const { widget } = await render({ format: 99 }, null, {
      'text/plain': `Memory Doctor ${XSS}`
    });
    expect(widget.output).toBeNull();
    expect(widget.node.querySelector('pre')!.textContent).toBe(
      `Memory Doctor ${XSS}`
    );
    expect(widget.node.textContent).toContain('format 99');
  });

  it('draws a badge as the panel writes it, with its tooltip', async () => {
    const { widget } = await render(fixture('badge'));
    const badge = widget.node.querySelector<HTMLElement>(
      '.jp-MemoryDoctor-outputBadge'
    )!;
    expect(badge.textContent).toMatch(/^\+\d+(\.\d)? MB · peak \+\d+/);
    expect(badge.title).toMatch(/^Memory Doctor — run \[\d+\]/);
  });

  it('sorts its holders with the panel table and leads a row to its cell', async () => {
    const data = fixture('holders_hostile');
    const holders = data.scan.holders as Record<string, any>[];
    expect(holders.length).toBeGreaterThan(1);
    holders[0].cell_id = 'cell-7';
    const { entry } = await connect();
    const { widget, revealed } = await render(data, entry);
    const byRetained = rowNames(widget);
    const nameSort = widget.node.querySelector<HTMLButtonElement>(
      '[data-sort-key="names"]'
    )!;
    nameSort.click();
    await flush();
    expect(rowNames(widget)).toEqual(
      [...byRetained].sort((a, b) =>
        a!.localeCompare(b!, undefined, { numeric: true, sensitivity: 'base' })
      )
    );
    const row = widget.node.querySelector<HTMLElement>(
      `[data-holder-id="${holders[0].id}"]`
    )!;
    row.querySelector<HTMLElement>('.jp-MemoryDoctor-holderType')!.click();
    expect(revealed).toEqual(['cell-7']);
  });

  it('leads a cell of the top lists to the cell', async () => {
    const data = fixture('cells');
    data.cells_by_left[0].cell_id = 'cell-2';
    const { entry } = await connect();
    const { widget, revealed } = await render(data, entry);
    const prompt = `[${data.cells_by_left[0].execution_count}]`;
    const link = buttons(widget, /^Go to cell /).find(
      b => b.textContent === prompt
    );
    link!.click();
    expect(revealed).toEqual(['cell-2']);
  });
});

describe('fixes from an output', () => {
  let connected: IConnected;
  beforeEach(async () => {
    connected = await connect();
  });

  /** A summary of this kernel whose first suggestion deletes `victim`. */
  function summary(pid = PID): Record<string, any> {
    const data = fixture('summary');
    data.kernel.pid = pid;
    return data;
  }

  it('applies through the notebook service after the panel confirmation, keeping the outcome with the output', async () => {
    const data = summary();
    const suggestion = data.scan.suggestions[0];
    const { widget, confirms } = await render(data, connected.entry);
    const apply = buttons(widget, /^Apply: /);
    expect(apply).toHaveLength(1);
    expect(apply[0].disabled).toBe(false);
    apply[0].click();
    await flush();
    expect(confirms).toEqual([suggestion.id]);
    expect(connected.comm().lastRequest()).toMatchObject({
      type: 'apply_fix',
      suggestion_id: suggestion.id,
      action: suggestion.action,
      targets: suggestion.targets
    });
    answerFix(connected.comm(), {
      result: makeFixResult({
        suggestion_id: suggestion.id,
        action: suggestion.action,
        estimated_freed_bytes: suggestion.estimated_freed_bytes
      })
    });
    await flush();
    const outcome = widget.node.querySelector('.jp-MemoryDoctor-fixOutcome');
    expect(outcome?.textContent).toContain('Freed 1.2 GB');
    // The notebook's own fix model (the panel's) is untouched.
    expect(connected.entry.fixes.outcome).toBeNull();
    expect(widget.context!.fixes.outcome?.kind).toBe('applied');
    // A fix that freed memory refreshes the notebook's scan, as in the panel.
    expect(connected.comm().lastRequest().type).toBe('scan');
  });

  it('sends nothing when the confirmation is declined', async () => {
    const { widget, answer } = await render(summary(), connected.entry);
    answer.accept = false;
    const before = connected.comm().sent.length;
    buttons(widget, /^Apply: /)[0].click();
    await flush();
    expect(connected.comm().sent.length).toBe(before);
  });

  it('offers no fix for an output of another kernel, and says why', async () => {
    const { widget } = await render(summary(PID + 1), connected.entry);
    expect(buttons(widget, /^Apply: /)[0].disabled).toBe(true);
    expect(widget.node.textContent).toContain(
      'This output comes from an earlier kernel'
    );
  });

  it('offers no fix outside a notebook, and says why', async () => {
    const { widget } = await render(summary(), null);
    expect(buttons(widget, /^Apply: /)[0].disabled).toBe(true);
    expect(widget.node.textContent).toContain(
      'Open this output in its notebook'
    );
  });

  it('previews a fix with the confirmation words and its Apply button', async () => {
    const data = fixture('fix_preview');
    data.kernel.pid = PID;
    const { widget } = await render(data, connected.entry);
    expect(widget.node.textContent).toContain(
      'These names will be deleted from the kernel.'
    );
    expect(buttons(widget, /^Apply: /)).toHaveLength(1);
  });
});
