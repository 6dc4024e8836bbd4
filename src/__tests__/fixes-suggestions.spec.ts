import type { FixOutcome } from '../panels/fixes';
import {
  createOutcome,
  createSuggestion,
  estimateText,
  outcomeLines,
  sortSuggestions,
  suggestionPlace,
  suggestionTitle
} from '../panels/fixes';
import { decodeScanResult, FIX_ACTIONS } from '../protocol';
import {
  IPanelHarness,
  makeFixResult,
  makeFixScan,
  makeResource,
  makeScanResult,
  makeHolder,
  makeSuggestion,
  panelHarness,
  showScan,
  trans,
  usePanelHooks,
  XSS
} from './panel-fakes';

usePanelHooks();

const render = (
  overrides: Parameters<typeof makeSuggestion>[0] = {},
  options: { applying?: boolean; blocked?: string | null } = {}
) =>
  createSuggestion({
    suggestion: makeSuggestion(overrides),
    resources: [makeResource()],
    applying: options.applying ?? false,
    blocked: options.blocked ?? null,
    units: 'SI',
    trans
  });

const section = (harness: IPanelHarness) =>
  harness.panel.node.querySelector<HTMLElement>(
    '.jp-MemoryDoctor-suggestions'
  )!;
const items = (harness: IPanelHarness) =>
  Array.from(
    section(harness).querySelectorAll<HTMLElement>('[role="listitem"]')
  );

describe('suggestionTitle', () => {
  it('names a cache after its function and a log buffer after its handler', () => {
    expect(
      suggestionTitle(
        makeSuggestion({ action: 'cache_clear', targets: ['load_chunk'] }),
        [],
        trans
      )
    ).toBe("Clear load_chunk's cache");
    expect(
      suggestionTitle(
        makeSuggestion({
          action: 'clear_log_buffer',
          targets: ["logging.getLogger('md').handlers[0]"]
        }),
        [],
        trans
      )
    ).toBe("Clear the log buffer of logging.getLogger('md').handlers[0]");
  });

  it('has words for every action', () => {
    for (const action of FIX_ACTIONS) {
      const title = suggestionTitle(
        makeSuggestion({ action, targets: ['x'] }),
        [],
        trans
      );
      expect(title).not.toBe('');
    }
  });

  it('names resources by label and shortens long name lists', () => {
    expect(
      suggestionTitle(
        makeSuggestion({ action: 'close_resource', targets: ['r1'] }),
        [makeResource()],
        trans
      )
    ).toBe('Close f');
    expect(
      suggestionTitle(
        makeSuggestion({ targets: ['a', 'b', 'c', 'd', 'e', 'f'] }),
        [],
        trans
      )
    ).toBe('Delete a, b, c and 3 more');
    expect(
      suggestionTitle(
        makeSuggestion({ action: 'close_figures', targets: [] }),
        [],
        trans
      )
    ).toBe('Close all pyplot figures');
  });
});

describe('estimates, order and place', () => {
  it('formats the estimate in the chosen units, or says nothing when unknown', () => {
    const s = makeSuggestion({ estimated_freed_bytes: 1_073_741_824 });
    expect(estimateText(s, 'SI', trans)).toBe('frees about 1.1 GB');
    expect(estimateText(s, 'IEC', trans)).toBe('frees about 1.0 GiB');
    expect(
      estimateText(makeSuggestion({ estimated_freed_bytes: null }), 'SI', trans)
    ).toBeNull();
  });

  it('sorts by estimate, largest first, unknown last, ties in helper order', () => {
    const sorted = sortSuggestions([
      makeSuggestion({ id: 'a', estimated_freed_bytes: null }),
      makeSuggestion({ id: 'b', estimated_freed_bytes: 10 }),
      makeSuggestion({ id: 'c', estimated_freed_bytes: 500 }),
      makeSuggestion({ id: 'd', estimated_freed_bytes: 10 })
    ]);
    expect(sorted.map(s => s.id)).toEqual(['c', 'b', 'd', 'a']);
  });

  it('places resource fixes with their resource and gc/malloc_trim with the findings', () => {
    const resources = [makeResource()];
    expect(
      suggestionPlace(makeSuggestion({ resource_id: 'r1' }), resources)
    ).toBe('resource');
    // A resource the scan does not list: shown with the rest, not lost.
    expect(
      suggestionPlace(makeSuggestion({ resource_id: 'r9' }), resources)
    ).toBe('general');
    expect(
      suggestionPlace(makeSuggestion({ action: 'malloc_trim' }), resources)
    ).toBe('finding');
    expect(suggestionPlace(makeSuggestion(), resources)).toBe('general');
  });
});

describe('createSuggestion', () => {
  it('shows title, estimate, reason and code, with its verb and … for a destructive fix', () => {
    const node = render();
    expect(node.getAttribute('role')).toBe('listitem');
    expect(
      node.querySelector('.jp-MemoryDoctor-suggestionTitle')?.textContent
    ).toBe('Delete big, Out[3], _3');
    expect(
      node.querySelector('.jp-MemoryDoctor-suggestionEstimate')?.textContent
    ).toBe('frees about 1.2 GB');
    expect(
      node.querySelector('.jp-MemoryDoctor-suggestionReason')?.textContent
    ).toBe(
      'big is also held by the output cache; deleting all three frees it.'
    );
    expect(node.querySelector('pre')?.textContent).toBe(
      'del big; Out.pop(3, None); del _3'
    );
    const buttons = Array.from(node.querySelectorAll('button'));
    expect(buttons.map(b => b.textContent)).toEqual([
      'Delete\u2026',
      'Insert as cell'
    ]);
    expect(buttons[0].getAttribute('aria-label')).toBe(
      'Apply: Delete big, Out[3], _3'
    );
    expect(buttons.map(b => b.dataset.action)).toEqual(['apply', 'insert']);
    expect(buttons.every(b => b.dataset.suggestionId === 's1')).toBe(true);
  });

  it('says its verb without an ellipsis when nothing is deleted or closed', () => {
    const apply = render({ destructive: false }).querySelector('button')!;
    expect(apply.textContent).toBe('Delete');
    // The Findings say "now with Collect": that is this button's word.
    const collect = render({
      action: 'gc_collect',
      targets: [],
      destructive: false
    }).querySelector('button')!;
    expect(collect.textContent).toBe('Collect');
  });

  it('disables Apply with the reason while blocked, and shows progress while applying', () => {
    const blocked = render({}, { blocked: 'A scan is running.' });
    const apply = blocked.querySelector<HTMLButtonElement>('button')!;
    expect(apply.disabled).toBe(true);
    expect(apply.title).toBe('A scan is running.');
    const applying = render({}, { applying: true });
    const busy = applying.querySelector<HTMLButtonElement>('button')!;
    expect(busy.disabled).toBe(true);
    expect(busy.textContent).toBe('Applying\u2026');
  });

  it('offers no Insert as cell when there is no code', () => {
    const buttons = render({ code: '' }).querySelectorAll('button');
    expect(Array.from(buttons).map(b => b.dataset.action)).toEqual(['apply']);
  });

  it('renders names, reasons and code from user data as text', () => {
    const node = render({
      targets: [XSS, 'r1'],
      reason: `${XSS} holds it`,
      code: `del d['${XSS}']`
    });
    expect(node.querySelector('img')).toBeNull();
    expect(node.textContent).toContain(`Delete ${XSS}, f`);
    expect(node.textContent).toContain(`${XSS} holds it`);
    expect(node.querySelector('pre')?.textContent).toBe(`del d['${XSS}']`);
    expect(node.innerHTML).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('outcome', () => {
  const applied = (
    result: Parameters<typeof makeFixResult>[0] = {},
    suggestion: Parameters<typeof makeSuggestion>[0] = {}
  ): FixOutcome => ({
    kind: 'applied',
    suggestion: makeSuggestion(suggestion),
    result: makeFixResult(result)
  });

  it('shows the measured drop next to the estimate', () => {
    expect(outcomeLines(applied(), [], 'SI', trans)).toEqual([
      'Delete big, Out[3], _3',
      'Freed 1.2 GB (estimated 1.2 GB)',
      'Kernel RSS 9.7 GB \u2192 8.5 GB'
    ]);
    expect(
      outcomeLines(applied({ estimated_freed_bytes: null }), [], 'SI', trans)[1]
    ).toBe('Freed 1.2 GB');
  });

  it("gives the kernel's explanation when the drop falls short", () => {
    const lines = outcomeLines(
      applied({
        measured_freed_bytes: 4_000_000,
        explanation: 'The allocator kept the freed memory.'
      }),
      [],
      'SI',
      trans
    );
    expect(lines[1]).toBe('Freed 4.0 MB (estimated 1.2 GB)');
    expect(lines[2]).toBe('The allocator kept the freed memory.');
  });

  it('explains a large shortfall itself when the kernel gave no reason', () => {
    const lines = outcomeLines(
      applied({ measured_freed_bytes: 4_000_000 }),
      [],
      'SI',
      trans
    );
    expect(lines[2]).toMatch(/^Less came back than estimated/);
    // A close match needs no explanation.
    expect(outcomeLines(applied(), [], 'SI', trans)).toHaveLength(3);
  });

  it('says what malloc_trim returned to the OS', () => {
    const lines = outcomeLines(
      applied(
        {
          action: 'malloc_trim',
          measured_freed_bytes: 150_000_000,
          estimated_freed_bytes: 188_000_000
        },
        { action: 'malloc_trim', targets: [] }
      ),
      [],
      'SI',
      trans
    );
    expect(lines[1]).toBe('Returned 150 MB to the OS (estimated 188 MB)');
  });

  it('shows what was freed in the kernel and what went back to the OS (1.3)', () => {
    const lines = outcomeLines(
      applied({
        estimated_freed_bytes: 320_000_000,
        freed_in_process_bytes: 320_000_000,
        returned_to_os_bytes: 318_000_000,
        measured_freed_bytes: 318_000_000
      }),
      [],
      'SI',
      trans
    );
    expect(lines[1]).toBe(
      'Freed 320 MB (estimated 320 MB) \u00b7 returned to the OS 318 MB'
    );
    expect(lines).toHaveLength(3); // as estimated: nothing to explain
  });

  it('does not call a fix whose memory Python reuses "Freed 0 B"', () => {
    const lines = outcomeLines(
      applied({
        estimated_freed_bytes: 200_000_000,
        freed_in_process_bytes: 200_000_000,
        returned_to_os_bytes: 0,
        measured_freed_bytes: 0,
        explanation: 'Python freed 200 MB, but only 0 B went back to the OS.'
      }),
      [],
      'SI',
      trans
    );
    expect(lines[1]).toBe(
      'Freed 200 MB (estimated 200 MB) \u00b7 returned to the OS 0 B'
    );
    expect(lines[2]).toBe(
      'Python freed 200 MB, but only 0 B went back to the OS.'
    );
  });

  it('names a closed resource by its label after the rescan dropped it', () => {
    const close = makeSuggestion({
      id: 's4',
      action: 'close_resource',
      targets: ['r1'],
      resource_id: 'r1'
    });
    const before = [makeResource({ id: 'r1', label: 'fh' })];
    expect(suggestionTitle(close, before, trans)).toBe('Close fh');
    // The rescan after the fix lists no r1 any more (fh is closed).
    const lines = outcomeLines(
      {
        kind: 'applied',
        suggestion: close,
        result: makeFixResult({
          action: 'close_resource',
          estimated_freed_bytes: null
        })
      },
      [],
      'SI',
      trans
    );
    expect(lines[0]).toBe('Close fh');
  });

  it('offers Rescan after a refusal, and escapes its message', () => {
    const box = createOutcome(
      {
        kind: 'refused',
        suggestion: makeSuggestion(),
        message: `${XSS} changed`
      },
      [],
      'SI',
      trans
    );
    expect(box.querySelector('img')).toBeNull();
    expect(box.textContent).toContain(`Not applied: ${XSS} changed`);
    expect(
      Array.from(box.querySelectorAll('button')).map(b => b.dataset.action)
    ).toEqual(['rescan', 'dismiss']);
  });

  it('explains a timeout: the fix may still run after the cell', () => {
    const lines = outcomeLines(
      {
        kind: 'failed',
        suggestion: makeSuggestion(),
        code: 'timeout',
        message: 'No reply'
      },
      [],
      'SI',
      trans
    );
    expect(lines[1]).toMatch(/busy running a cell/);
  });
});

describe('SuggestionsSection in the panel', () => {
  it('lists holder fixes, largest first, and leaves resource and finding fixes to their sections', async () => {
    const harness = await panelHarness();
    await showScan(
      harness,
      makeFixScan({
        resources: [makeResource()],
        suggestions: [
          makeSuggestion({ id: 's1', estimated_freed_bytes: 100 }),
          makeSuggestion({
            id: 's2',
            action: 'reset_output_cache',
            targets: [],
            estimated_freed_bytes: 5_000
          }),
          makeSuggestion({
            id: 's3',
            action: 'close_resource',
            targets: ['r1'],
            resource_id: 'r1'
          }),
          makeSuggestion({ id: 's4', action: 'gc_collect', targets: [] })
        ]
      })
    );
    expect(items(harness).map(i => i.dataset.suggestionId)).toEqual([
      's2',
      's1'
    ]);
    // One line: how many, what they free in all (one fix per holder: the
    // reset frees what the delete of the same holder would, and more).
    expect(
      section(harness).querySelector('.jp-MemoryDoctor-fixToggle')?.textContent
    ).toBe('2 suggestions \u00b7 frees about 5.0 kB');
  });

  it('starts folded to its summary line and unfolds', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    const toggle = section(harness).querySelector<HTMLButtonElement>(
      '.jp-MemoryDoctor-fixToggle'
    )!;
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(
      section(harness).querySelector<HTMLElement>('[role="list"]')!.hidden
    ).toBe(true);
    toggle.click();
    const unfolded = section(harness).querySelector<HTMLButtonElement>(
      '.jp-MemoryDoctor-fixToggle'
    )!;
    expect(unfolded.getAttribute('aria-expanded')).toBe('true');
    expect(
      section(harness).querySelector<HTMLElement>('[role="list"]')!.hidden
    ).toBe(false);
  });

  it('keeps keyboard focus on a control that a redraw rebuilt', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan());
    const toggle = section(harness).querySelector<HTMLButtonElement>(
      '.jp-MemoryDoctor-fixToggle'
    )!;
    toggle.focus();
    toggle.click();
    const rebuilt = section(harness).querySelector<HTMLButtonElement>(
      '.jp-MemoryDoctor-fixToggle'
    )!;
    expect(rebuilt).not.toBe(toggle);
    expect(document.activeElement).toBe(rebuilt);
  });

  it('says when there is nothing to suggest', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeFixScan({ suggestions: [] }));
    expect(section(harness).textContent).toContain('No fix to suggest');
  });

  it('stays hidden for a 1.1 helper, which sends no suggestions', async () => {
    const harness = await panelHarness();
    await showScan(harness, makeScanResult([makeHolder()]));
    const body = section(harness).lastElementChild as HTMLElement;
    expect(body.hidden).toBe(true);
    expect(section(harness).textContent).toBe('');
  });
});

describe('decoding suggestions', () => {
  it('drops unknown actions, repeated ids and missing fields, and says where', () => {
    const dropped: string[] = [];
    const { destructive, ...undecided } = makeSuggestion({ id: 's4' });
    const result = decodeScanResult(
      {
        ...makeFixScan(),
        suggestions: [
          makeSuggestion(),
          makeSuggestion({ action: 'gc_collect' }),
          makeSuggestion({ id: 's2', action: 'format_disk' as any }),
          makeSuggestion({ id: 's3', targets: ['a', 3 as any] }),
          // A missing `destructive` is not read as either: no button at all.
          undecided,
          'nonsense'
        ]
      },
      { onDrop: error => dropped.push(error.path) }
    );
    expect(destructive).toBe(true);
    expect(result.suggestions).toEqual([makeSuggestion()]);
    expect(dropped).toEqual([
      'ScanResult.suggestions[1].id',
      'ScanResult.suggestions[2].action',
      'ScanResult.suggestions[3].targets[1]',
      'ScanResult.suggestions[4].destructive',
      'ScanResult.suggestions[5]'
    ]);
  });

  it('leaves suggestions, resources and findings out for a 1.1 result', () => {
    const result = decodeScanResult(makeScanResult([]));
    expect('suggestions' in result).toBe(false);
    expect('resources' in result).toBe(false);
    expect('findings' in result).toBe(false);
  });
});
