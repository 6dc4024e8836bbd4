/**
 * The Resources section (what the session holds open and may have
 * forgotten: files, sockets, connections, threads, processes, pools,
 * figures, temporary directories, mmaps, HDF5 files, asyncio tasks) and the
 * Findings (process-wide counts, cyclic garbage, the allocator gap), each
 * with the suggestions that fix it. Text only: labels, paths and notes come
 * from user data.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { formatBytes, formatCount, Units } from '../../format';
import type {
  GapAllocator,
  IFindings,
  IResource,
  ISuggestion,
  ResourceKind
} from '../../protocol';
import type { ISettingsSource } from '../../settings';
import { el, nextId } from '../shared/dom';
import type { FixController } from './controller';
import {
  createHeading,
  createSuggestion,
  FixClasses,
  handleFixClick,
  keepingFocus,
  sortSuggestions,
  suggestionPlace
} from './items';

/** CSS classes of the resources and findings. */
export namespace ResourceClasses {
  export const resource = 'jp-MemoryDoctor-resource';
  export const head = 'jp-MemoryDoctor-resourceHead';
  export const kind = 'jp-MemoryDoctor-resourceKind';
  export const label = 'jp-MemoryDoctor-resourceLabel';
  export const cell = 'jp-MemoryDoctor-resourceCell';
  export const detail = 'jp-MemoryDoctor-resourceDetail';
  export const line = 'jp-MemoryDoctor-resourceLine';
  export const note = 'jp-MemoryDoctor-resourceNote';
  export const finding = 'jp-MemoryDoctor-finding';
  export const counts = 'jp-MemoryDoctor-findingCounts';
}

/** Resources shown folded when none has a fix (the side panel's default). */
export const SMALL_RESOURCES = 3;

/** The name of a resource kind, e.g. `open file`. */
export function resourceKindLabel(
  kind: ResourceKind,
  trans: TranslationBundle
): string {
  switch (kind) {
    case 'file':
      return trans.__('open file');
    case 'socket':
      return trans.__('socket');
    case 'db_connection':
      return trans.__('database connection');
    case 'thread':
      return trans.__('thread');
    case 'process':
      return trans.__('child process');
    case 'figure':
      return trans.__('pyplot figure');
    case 'pool':
      return trans.__('process pool');
    case 'tempdir':
      return trans.__('temporary directory');
    case 'mmap':
      return trans.__('memory map');
    case 'h5py_file':
      return trans.__('HDF5 file');
    case 'asyncio_task':
      return trans.__('asyncio task');
  }
}

/**
 * What the panel says about a resource beyond its data: threads cannot be
 * stopped from outside, so there is no button, only this. The helper's note
 * for a thread already says so and adds what the thread holds, so the panel
 * speaks only when there is no note.
 */
export function resourceAdvice(
  resource: IResource,
  trans: TranslationBundle
): string | null {
  return resource.kind === 'thread' && !resource.note
    ? trans.__(
        'A thread cannot be stopped safely from outside: the code that started it has to tell it to stop. Until then it keeps what it references alive.'
      )
    : null;
}

/** The process-wide counts, e.g. `Open files 23 · Threads 4 · …`. */
export function countsText(
  findings: IFindings,
  trans: TranslationBundle
): string {
  const figure = (n: number | null) =>
    n === null ? trans.__('unknown') : formatCount(n);
  return [
    trans.__('Open file descriptors: %1', figure(findings.open_fds)),
    trans.__('Threads: %1', figure(findings.threads)),
    trans.__('Child processes: %1', figure(findings.children))
  ].join(' \u00b7 ');
}

/** The cyclic garbage finding, as a sentence. */
export function garbageText(
  findings: IFindings,
  units: Units,
  trans: TranslationBundle,
  collect = false
): string {
  const garbage = findings.cyclic_garbage;
  if (garbage === null) {
    return trans.__('Cyclic garbage: not measured.');
  }
  if (garbage.objects === 0) {
    return trans.__(
      'Cyclic garbage: none. No unreachable reference cycles are waiting for the garbage collector.'
    );
  }
  // "Collect" is the button of the gc_collect suggestion, when there is one.
  return collect
    ? trans._n(
        'Cyclic garbage: %1 unreachable object (%2) waits for the garbage collector. Reference cycles are freed only when the collector runs; it will run on its own, or now with Collect.',
        'Cyclic garbage: %1 unreachable objects (%2) wait for the garbage collector. Reference cycles are freed only when the collector runs; it will run on its own, or now with Collect.',
        garbage.objects,
        formatBytes(garbage.bytes, units)
      )
    : trans._n(
        'Cyclic garbage: %1 unreachable object (%2) waits for the garbage collector. Reference cycles are freed only when the collector runs; it will run on its own.',
        'Cyclic garbage: %1 unreachable objects (%2) wait for the garbage collector. Reference cycles are freed only when the collector runs; it will run on its own.',
        garbage.objects,
        formatBytes(garbage.bytes, units)
      );
}

/** The allocator gap finding, as a sentence. */
export function gapText(
  findings: IFindings,
  units: Units,
  trans: TranslationBundle
): string {
  const gap = findings.allocator_gap;
  if (gap === null || gap.bytes === null) {
    return trans.__(
      'Allocator gap: cannot be read here. Memory Python frees may stay with the C allocator instead of returning to the OS.'
    );
  }
  const size = formatBytes(gap.bytes, units);
  const text = gap.malloc_trim
    ? trans.__(
        'Allocator gap: %1 freed by Python but not returned to the OS by the C allocator, so the RSS still counts it. glibc returns it with malloc_trim(0).',
        size
      )
    : trans.__(
        'Allocator gap: %1 freed by Python but not returned to the OS by the C allocator, so the RSS still counts it. This allocator has no malloc_trim, so it cannot be returned on demand.',
        size
      );
  const parts = (gap.parts ?? [])
    .filter(part => part.bytes > 0)
    .map(part =>
      trans.__(
        '%1 %2',
        allocatorName(part.allocator, trans),
        formatBytes(part.bytes, units)
      )
    );
  return parts.length > 0
    ? `${text} ${trans.__('By allocator: %1.', parts.join(', '))}`
    : text;
}

/** How an allocator of the gap is named (1.3 `allocator_gap.parts`). */
export function allocatorName(
  allocator: GapAllocator,
  trans: TranslationBundle
): string {
  switch (allocator) {
    case 'pymalloc':
      return trans.__("Python's small-object arenas (reused, not returned)");
    case 'glibc_heap':
      return trans.__("glibc's main heap");
    case 'glibc_arenas':
      return trans.__("glibc's arenas of other threads");
    case 'arrow_pool':
      return trans.__("Arrow's memory pool");
  }
}

/**
 * The Resources and Findings sections.
 */
export class ResourcesSection extends Widget {
  constructor(options: ResourcesSection.IOptions) {
    super();
    this._controller = options.controller;
    this._settings = options.settings;
    this._trans = options.trans;
    this._onReveal = options.onReveal;
    this._foldSmall = options.foldSmall === true;
    this.addClass(FixClasses.section);
    this.addClass('jp-MemoryDoctor-resources');
    const id = nextId();
    this._resourcesList.id = `jp-MemoryDoctor-resources-list-${id}`;
    this._findingsList.id = `jp-MemoryDoctor-findings-list-${id}`;
    this.node.appendChild(this._resources);
    this.node.appendChild(this._findings);
    this.node.addEventListener('click', this);
    this._controller.changed.connect(this.render, this);
    this._settings.changed.connect(this.render, this);
    this.render();
  }

  /** Handle clicks: fold a section, reveal a cell, or a fix button. */
  handleEvent(event: Event): void {
    if (event.type !== 'click') {
      return;
    }
    const target = (event.target as Element | null)?.closest<HTMLElement>(
      '[data-action]'
    );
    switch (target?.dataset.action) {
      case 'toggle': {
        const controls = target.getAttribute('aria-controls');
        if (controls) {
          this._chosen.set(
            controls,
            target.getAttribute('aria-expanded') !== 'true'
          );
        }
        this.render();
        return;
      }
      case 'reveal':
        if (target.dataset.cellId) {
          this._onReveal(target.dataset.cellId, target.dataset.name ?? '');
        }
        return;
      default:
        handleFixClick(event, this._controller);
    }
  }

  /** Redraw from the controller's model. */
  render(): void {
    keepingFocus(this.node, () => {
      const result = this._controller.model.result;
      const resources = result?.resources;
      const suggestions = result?.suggestions ?? [];
      this._renderResources(resources, suggestions);
      this._renderFindings(result?.findings, resources ?? [], suggestions);
    });
  }

  /** Stop listening. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.node.removeEventListener('click', this);
    this._controller.changed.disconnect(this.render, this);
    this._settings.changed.disconnect(this.render, this);
    super.dispose();
  }

  private _renderResources(
    resources: IResource[] | undefined,
    suggestions: ISuggestion[]
  ): void {
    const trans = this._trans;
    const node = this._resources;
    node.textContent = '';
    // A 1.1 helper reports no resources: hide the section, claim nothing.
    node.hidden = resources === undefined;
    if (resources === undefined) {
      return;
    }
    const list = this._resourcesList;
    const fixed = (resource: IResource) =>
      suggestions.some(
        s =>
          s.resource_id === resource.id &&
          suggestionPlace(s, resources) === 'resource'
      );
    // Folded while empty or small: a few entries with nothing to fix.
    const expanded = this._expanded(
      list.id,
      !this._foldSmall ||
        resources.length > SMALL_RESOURCES ||
        resources.some(fixed)
    );
    node.appendChild(
      createHeading(trans.__('Resources'), resources.length, expanded, list.id)
    );
    list.className = FixClasses.list;
    list.setAttribute('role', 'list');
    list.setAttribute('aria-label', trans.__('Resources'));
    list.textContent = '';
    list.hidden = !expanded;
    if (resources.length === 0) {
      list.appendChild(
        el(
          'div',
          FixClasses.empty,
          trans.__(
            'Nothing left open: no files, sockets, database connections, threads, child processes, pools, pyplot figures, temporary directories, mmaps, HDF5 files or asyncio tasks.'
          )
        )
      );
    }
    for (const resource of resources) {
      const fixes = suggestions.filter(
        s =>
          s.resource_id === resource.id &&
          suggestionPlace(s, resources) === 'resource'
      );
      list.appendChild(this._createResource(resource, resources, fixes));
    }
    node.appendChild(list);
  }

  private _createResource(
    resource: IResource,
    resources: readonly IResource[],
    fixes: ISuggestion[]
  ): HTMLElement {
    const trans = this._trans;
    const item = el('div', ResourceClasses.resource);
    item.setAttribute('role', 'listitem');
    item.dataset.resourceId = resource.id;
    item.dataset.kind = resource.kind;

    const head = el('div', ResourceClasses.head);
    head.appendChild(
      el('span', ResourceClasses.kind, resourceKindLabel(resource.kind, trans))
    );
    const label = el('span', ResourceClasses.label, resource.label);
    label.title = resource.label;
    head.appendChild(label);
    if (resource.cell_id) {
      const prompt =
        resource.execution_count === null
          ? '[ ]'
          : `[${resource.execution_count}]`;
      const link = el('button', ResourceClasses.cell, prompt);
      link.type = 'button';
      link.dataset.action = 'reveal';
      link.dataset.cellId = resource.cell_id;
      link.dataset.name = resource.label;
      link.setAttribute(
        'aria-label',
        trans.__('Go to the cell that created %1', resource.label)
      );
      link.title = link.getAttribute('aria-label')!;
      head.appendChild(link);
    }
    item.appendChild(head);

    if (resource.detail) {
      const detail = el('div', ResourceClasses.detail, resource.detail);
      detail.title = resource.detail;
      item.appendChild(detail);
    }
    if (resource.held_by.length > 0) {
      item.appendChild(
        el(
          'div',
          ResourceClasses.line,
          trans.__('Held by: %1', resource.held_by.join(', '))
        )
      );
    }
    const advice = resourceAdvice(resource, trans);
    if (advice !== null) {
      item.appendChild(el('div', ResourceClasses.line, advice));
    }
    if (resource.note) {
      item.appendChild(el('div', ResourceClasses.note, resource.note));
    }
    for (const suggestion of sortSuggestions(fixes)) {
      item.appendChild(this._createSuggestion(suggestion, resources));
    }
    return item;
  }

  private _renderFindings(
    findings: IFindings | undefined,
    resources: readonly IResource[],
    suggestions: ISuggestion[]
  ): void {
    const trans = this._trans;
    const units = this._settings.current.units;
    const node = this._findings;
    node.textContent = '';
    node.hidden = findings === undefined;
    if (findings === undefined) {
      return;
    }
    const list = this._findingsList;
    const placed = suggestions.filter(
      s => suggestionPlace(s, resources) === 'finding'
    );
    // Folded unless a finding calls for a fix (collect, return memory).
    const expanded = this._expanded(
      list.id,
      !this._foldSmall || placed.length > 0
    );
    node.appendChild(
      createHeading(trans.__('Findings'), null, expanded, list.id)
    );
    list.className = FixClasses.list;
    list.setAttribute('role', 'list');
    list.setAttribute('aria-label', trans.__('Findings'));
    list.textContent = '';
    list.hidden = !expanded;
    const finding = (name: string, text: string) => {
      const item = el('div', ResourceClasses.finding);
      item.appendChild(el('div', 'jp-MemoryDoctor-findingText', text));
      item.setAttribute('role', 'listitem');
      item.dataset.finding = name;
      list.appendChild(item);
      return item;
    };
    finding('counts', countsText(findings, trans)).classList.add(
      ResourceClasses.counts
    );
    const garbage = finding(
      'cyclic_garbage',
      garbageText(
        findings,
        units,
        trans,
        placed.some(s => s.action === 'gc_collect')
      )
    );
    const gap = finding('allocator_gap', gapText(findings, units, trans));
    for (const suggestion of sortSuggestions(placed)) {
      const host = suggestion.action === 'gc_collect' ? garbage : gap;
      host.appendChild(this._createSuggestion(suggestion, resources));
    }
    node.appendChild(list);
  }

  /** Whether a section shows its list: the user's choice, else `byDefault`. */
  private _expanded(id: string, byDefault: boolean): boolean {
    return this._chosen.get(id) ?? byDefault;
  }

  private _createSuggestion(
    suggestion: ISuggestion,
    resources: readonly IResource[]
  ): HTMLElement {
    const controller = this._controller;
    return createSuggestion({
      suggestion,
      resources,
      applying: controller.applying === suggestion.id,
      waiting: controller.waiting,
      blocked: controller.blocked,
      units: this._settings.current.units,
      trans: this._trans
    });
  }

  private _controller: FixController;
  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _onReveal: (cellId: string, name: string) => void;
  private _resources = document.createElement('div');
  private _findings = document.createElement('div');
  private _resourcesList = document.createElement('div');
  private _findingsList = document.createElement('div');
  private _chosen = new Map<string, boolean>();
  private _foldSmall: boolean;
}

/** The namespace for `ResourcesSection` options. */
export namespace ResourcesSection {
  /** Options for a `ResourcesSection`. */
  export interface IOptions {
    /** Applies fixes; its model holds the scan. */
    controller: FixController;
    /** Live settings (units). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** Reveals the cell (by id) that created the resource named `name`. */
    onReveal: (cellId: string, name: string) => void;
    /**
     * Start each section folded while it is empty or small (the side panel,
     * where they sit below the holders table); else open.
     */
    foldSmall?: boolean;
  }
}
