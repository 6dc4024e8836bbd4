import {
  countsText,
  gapText,
  garbageText,
  resourceKindLabel
} from '../panels/fixes/resources';
import { decodeScanResult, RESOURCE_KINDS } from '../protocol';
import { flush } from './fakes';
import {
  IPanelHarness,
  makeFindings,
  makeFixScan,
  makeHolder,
  makeResource,
  makeScanResult,
  makeSuggestion,
  panelHarness,
  showScan,
  trans,
  usePanelHooks,
  XSS
} from './panel-fakes';

usePanelHooks();

const section = (harness: IPanelHarness) =>
  harness.panel.node.querySelector<HTMLElement>('.jp-MemoryDoctor-resources')!;
const resourceItems = (harness: IPanelHarness) =>
  Array.from(
    section(harness).querySelectorAll<HTMLElement>('[data-resource-id]')
  );
const finding = (harness: IPanelHarness, name: string) =>
  section(harness).querySelector<HTMLElement>(`[data-finding="${name}"]`)!;

describe('resource and finding words', () => {
  it('names every resource kind', () => {
    const names = RESOURCE_KINDS.map(kind => resourceKindLabel(kind, trans));
    expect(new Set(names).size).toBe(RESOURCE_KINDS.length);
  });

  it('says unknown for counts it could not read', () => {
    expect(countsText(makeFindings({ children: null }), trans)).toBe(
      'Open file descriptors: 23 \u00b7 Threads: 4 \u00b7 Child processes: unknown'
    );
  });

  it('explains cyclic garbage, or its absence', () => {
    expect(garbageText(makeFindings(), 'SI', trans)).toMatch(
      /^Cyclic garbage: 120,?000 unreachable objects \(9.6 MB\) wait for the garbage collector/
    );
    expect(
      garbageText(
        makeFindings({ cyclic_garbage: { objects: 0, bytes: 0 } }),
        'SI',
        trans
      )
    ).toMatch(/^Cyclic garbage: none/);
    expect(
      garbageText(makeFindings({ cyclic_garbage: null }), 'SI', trans)
    ).toBe('Cyclic garbage: not measured.');
  });

  it('explains the allocator gap, with or without malloc_trim', () => {
    expect(gapText(makeFindings(), 'SI', trans)).toMatch(
      /188 MB freed by Python but not returned to the OS.*malloc_trim\(0\)/
    );
    expect(
      gapText(
        makeFindings({
          allocator_gap: { bytes: 5_000_000, malloc_trim: false }
        }),
        'SI',
        trans
      )
    ).toMatch(/has no malloc_trim/);
    expect(
      gapText(
        makeFindings({ allocator_gap: { bytes: null, malloc_trim: false } }),
        'SI',
        trans
      )
    ).toMatch(/cannot be read here/);
  });

  it('names each allocator of the gap (1.3)', () => {
    const text = gapText(
      makeFindings({
        allocator_gap: {
          bytes: 350_000_000,
          malloc_trim: true,
          parts: [
            { allocator: 'pymalloc', bytes: 5_000_000, returnable: false },
            { allocator: 'glibc_heap', bytes: 300_000_000, returnable: true },
            { allocator: 'glibc_arenas', bytes: 0, returnable: true },
            { allocator: 'arrow_pool', bytes: 45_000_000, returnable: true }
          ]
        }
      }),
      'SI',
      trans
    );
    expect(text).toMatch(
      /By allocator: Python's small-object arenas \(reused, not returned\) 5\.0 MB, glibc's main heap 300 MB, Arrow's memory pool 45 MB\.$/
    );
  });
});

describe('ResourcesSection in the panel', () => {
  it('lists each resource with its kind, detail, holders and cell, and its close fix', async () => {
    const harness = await panelHarness();
    await showScan(
      harness,
      makeFixScan({
        resources: [
          makeResource(),
          makeResource({
            id: 'r2',
            kind: 'process',
            label: 'proc',
            detail: 'pid 4711: sleep 600',
            held_by: ['proc', 'procs[0]'],
            cell_id: null,
            execution_count: null
          })
        ],
        suggestions: [
          makeSuggestion({
            id: 's2',
            action: 'close_resource',
            targets: ['r1'],
            code: 'f.close()',
            resource_id: 'r1',
            holder_id: null,
            estimated_freed_bytes: null
          })
        ]
      })
    );
    const [file, process] = resourceItems(harness);
    expect(file.getAttribute('role')).toBe('listitem');
    expect(
      file.querySelector('.jp-MemoryDoctor-resourceKind')?.textContent
    ).toBe('open file');
    expect(
      file.querySelector('.jp-MemoryDoctor-resourceLabel')?.textContent
    ).toBe('f');
    expect(
      file.querySelector('.jp-MemoryDoctor-resourceDetail')?.textContent
    ).toBe("/data/big.csv (mode 'r', fd 7)");
    expect(file.textContent).toContain('Held by: f');
    const fix = file.querySelector<HTMLElement>('[data-suggestion-id="s2"]')!;
    expect(
      fix.querySelector('.jp-MemoryDoctor-suggestionTitle')?.textContent
    ).toBe('Close f');
    expect(process.textContent).toContain('Held by: proc, procs[0]');
    // No cell is known for the process: no link.
    expect(process.querySelector('.jp-MemoryDoctor-resourceCell')).toBeNull();
    expect(
      section(harness).querySelector('.jp-MemoryDoctor-fixToggle')?.textContent
    ).toBe('Resources (2)');
  });

  it('reveals the cell that created a resource', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan({ resources: [makeResource()] }));
    const link = section(harness).querySelector<HTMLButtonElement>(
      '.jp-MemoryDoctor-resourceCell'
    )!;
    expect(link.textContent).toBe('[5]');
    expect(link.getAttribute('aria-label')).toBe(
      'Go to the cell that created f'
    );
    link.click();
    await flush();
    expect(harness.revealed).toEqual(['cell-2']);
  });

  it('says a thread cannot be stopped from outside and shows what it holds, with no Apply', async () => {
    const harness = await panelHarness();
    const note =
      'A thread cannot be stopped safely from outside; make its code return and join() it. It holds 21.0 MB (builtins.bytearray).';
    await showScan(
      harness,
      makeFixScan({
        resources: [
          makeResource({
            id: 't1',
            kind: 'thread',
            label: 'worker',
            detail: 'poller: running poll() (daemon)',
            held_by: ['worker'],
            note
          }),
          makeResource({ id: 't2', kind: 'thread', label: 'quiet', note: null })
        ],
        suggestions: []
      })
    );
    const [withNote, withoutNote] = resourceItems(harness);
    // The helper's note says it and names what the thread holds: once.
    expect(
      withNote.querySelector('.jp-MemoryDoctor-resourceNote')?.textContent
    ).toBe(note);
    expect(withNote.textContent!.split('cannot be stopped')).toHaveLength(2);
    // Without a note the panel says it itself.
    expect(withoutNote.textContent).toContain(
      'A thread cannot be stopped safely from outside'
    );
    for (const thread of [withNote, withoutNote]) {
      expect(thread.querySelector('button[data-action="apply"]')).toBeNull();
    }
  });

  it('shows the findings with Collect and malloc_trim where they belong', async () => {
    const harness = await panelHarness();
    await showScan(
      harness,
      makeFixScan({
        suggestions: [
          makeSuggestion({
            id: 'gc',
            action: 'gc_collect',
            targets: [],
            code: 'import gc; gc.collect()',
            destructive: false,
            holder_id: null
          }),
          makeSuggestion({
            id: 'trim',
            action: 'malloc_trim',
            targets: [],
            code: "import ctypes; ctypes.CDLL('libc.so.6').malloc_trim(0)",
            destructive: false,
            holder_id: null
          })
        ]
      })
    );
    expect(finding(harness, 'counts').textContent).toContain(
      'Open file descriptors: 23'
    );
    const garbage = finding(harness, 'cyclic_garbage');
    expect(garbage.textContent).toContain('wait for the garbage collector');
    expect(
      garbage
        .querySelector('[data-suggestion-id]')
        ?.getAttribute('data-suggestion-id')
    ).toBe('gc');
    const gap = finding(harness, 'allocator_gap');
    expect(gap.textContent).toContain('malloc_trim(0)');
    expect(
      gap
        .querySelector('[data-suggestion-id]')
        ?.getAttribute('data-suggestion-id')
    ).toBe('trim');
  });

  it('says when nothing is left open', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan({ resources: [] }));
    expect(section(harness).textContent).toContain('Nothing left open');
  });

  it('shows resources and findings even when no holder retains anything', async () => {
    const harness = await panelHarness();
    await showScan(
      harness,
      makeFixScan({ holders: [], resources: [makeResource()] })
    );
    const area = harness.panel.node.querySelector<HTMLElement>(
      '.jp-MemoryDoctor-holdersFixes'
    )!;
    expect(area.classList).not.toContain('lm-mod-hidden');
    expect(resourceItems(harness)).toHaveLength(1);
  });

  it('shows nothing for a 1.1 helper', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeScanResult([makeHolder()]));
    expect(section(harness).textContent).toBe('');
  });

  it('starts each section folded while small, and folds them separately', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan({ resources: [makeResource()] }));
    const toggles = () =>
      Array.from(
        section(harness).querySelectorAll<HTMLButtonElement>(
          '.jp-MemoryDoctor-fixToggle'
        )
      );
    // One resource with nothing to fix, findings with nothing to do: folded.
    expect(toggles().map(t => t.getAttribute('aria-expanded'))).toEqual([
      'false',
      'false'
    ]);
    toggles()[0].click();
    expect(toggles().map(t => t.getAttribute('aria-expanded'))).toEqual([
      'true',
      'false'
    ]);
    const lists =
      section(harness).querySelectorAll<HTMLElement>('[role="list"]');
    expect(Array.from(lists).map(l => l.hidden)).toEqual([false, true]);
  });

  it('starts a section open when it has something to fix', async () => {
    const harness = await panelHarness();
    await showScan(
      harness,
      makeFixScan({
        resources: [makeResource()],
        suggestions: [
          makeSuggestion({
            id: 's2',
            action: 'close_resource',
            targets: ['r1'],
            resource_id: 'r1',
            holder_id: null
          }),
          makeSuggestion({
            id: 's3',
            action: 'gc_collect',
            targets: [],
            destructive: false,
            holder_id: null
          })
        ]
      })
    );
    const expanded = Array.from(
      section(harness).querySelectorAll<HTMLButtonElement>(
        '.jp-MemoryDoctor-fixToggle'
      )
    ).map(t => t.getAttribute('aria-expanded'));
    expect(expanded).toEqual(['true', 'true']);
  });
});

describe('escaping user data', () => {
  it('injects nothing from a dict key, a file path or a class name', async () => {
    const harness = await panelHarness();
    await showScan(
      harness,
      makeFixScan({
        holders: [
          makeHolder({
            id: 'h1',
            labels: ['d'],
            type: `__main__.${XSS}`,
            path: `d['${XSS}']`,
            composition: [{ type: XSS, bytes: 10, count: 1 }]
          })
        ],
        resources: [
          makeResource({
            label: XSS,
            detail: `/tmp/${XSS}.csv (mode 'w', fd 9)`,
            held_by: [`d['${XSS}']`],
            note: XSS
          })
        ],
        suggestions: [
          makeSuggestion({
            targets: [`d['${XSS}']`],
            code: `del d['${XSS}']`,
            reason: `${XSS} holds it`
          }),
          makeSuggestion({
            id: 's2',
            action: 'close_resource',
            targets: ['r1'],
            code: `d['${XSS}'].close()`,
            resource_id: 'r1'
          })
        ]
      })
    );
    // Expand the holder so its path and composition are in the DOM too.
    harness.panel.model.toggleExpanded('h1');
    const node = harness.panel.node;
    expect(node.querySelector('img')).toBeNull();
    expect(node.querySelector('[onerror]')).toBeNull();
    expect(
      node.querySelector('code.jp-MemoryDoctor-holderPath')?.textContent
    ).toBe(`d['${XSS}']`);
    const text = node.textContent!;
    expect(text).toContain(`/tmp/${XSS}.csv`);
    expect(text).toContain(`__main__.${XSS}`);
    expect(text).toContain(`del d['${XSS}']`);
    expect(text).toContain(`Close ${XSS}`);
    expect(node.innerHTML).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('decoding resources and findings', () => {
  it('drops a resource that does not decode, or repeats an id, and says where', () => {
    const dropped: string[] = [];
    const result = decodeScanResult(
      {
        ...makeFixScan(),
        resources: [
          makeResource(),
          makeResource({ kind: 'socket' }),
          makeResource({ id: 'r2', kind: 'warp_core' as any }),
          makeResource({ id: 'r3', detail: 5 as any }),
          { ...makeResource({ id: 'r4' }), held_by: ['f', null] },
          null
        ]
      },
      { onDrop: error => dropped.push(error.message) }
    );
    expect(result.resources).toEqual([makeResource()]);
    expect(dropped).toEqual([
      'ScanResult.resources[1].id: expected an id not used before in this list, got "r1"',
      expect.stringMatching(
        /^ScanResult\.resources\[2\]\.kind: expected one of "file", /
      ),
      'ScanResult.resources[3].detail: expected a string of at most 200 characters, got 5',
      'ScanResult.resources[4].held_by[1]: expected a string, got null',
      'ScanResult.resources[5]: expected an object, got null'
    ]);
  });

  it('rejects findings that do not decode, naming the figure', () => {
    expect(() =>
      decodeScanResult({
        ...makeFixScan(),
        findings: makeFindings({ open_fds: 'many' as any })
      })
    ).toThrow(
      'ScanResult.findings.open_fds: expected null or an integer ≥ 0, got "many"'
    );
    expect(() =>
      decodeScanResult({
        ...makeFixScan(),
        findings: makeFindings({ cyclic_garbage: { objects: 5 } as any })
      })
    ).toThrow(
      'ScanResult.findings.cyclic_garbage.bytes: expected an integer ≥ 0, got nothing (missing)'
    );
  });
});
