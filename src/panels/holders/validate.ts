/**
 * Defensive reading of a `scan` result. The reply comes from the kernel, and
 * a malformed field must cost one holder or one figure, never the panel.
 */

import {
  FIX_ACTIONS,
  FixAction,
  HOLDER_KINDS,
  HolderKind,
  IFindings,
  IHolder,
  IHolderRoot,
  IResource,
  IScanResult,
  ISuggestion,
  RESOURCE_KINDS,
  ResourceKind,
  SCAN_STOPPED,
  ScanStopped
} from '../../protocol';

/**
 * Return a well-formed copy of a scan result: holders without an id or a
 * name are dropped, duplicate ids made unique (rows are keyed by id), and
 * missing or mistyped fields get neutral values.
 */
export function normalizeScanResult(raw: unknown): IScanResult {
  const value = Private.object(raw);
  const scan = Private.object(value.scan);
  const holders: IHolder[] = [];
  const seen = new Set<string>();
  const list = Array.isArray(value.holders) ? value.holders : [];
  for (const item of list) {
    const holder = normalizeHolder(item);
    if (!holder) {
      continue;
    }
    let id = holder.id;
    for (let n = 2; seen.has(id); n++) {
      id = `${holder.id}#${n}`;
    }
    seen.add(id);
    holders.push(id === holder.id ? holder : { ...holder, id });
  }
  const stopped = SCAN_STOPPED.includes(scan.stopped as ScanStopped)
    ? (scan.stopped as ScanStopped)
    : null;
  return {
    scan: {
      duration_s: Private.number(scan.duration_s),
      objects_visited: Private.number(scan.objects_visited),
      // Only an explicit `true` counts as complete; anything else is partial.
      complete: scan.complete === true && stopped === null,
      stopped
    },
    rss: Private.number(value.rss),
    attributed_bytes: Private.number(value.attributed_bytes),
    unattributed_bytes: Private.number(value.unattributed_bytes),
    holders,
    // A 1.1 helper sends none of these; the panel then hides their sections.
    ...(Array.isArray(value.resources)
      ? { resources: normalizeResources(value.resources) }
      : {}),
    ...('findings' in value
      ? { findings: normalizeFindings(value.findings) }
      : {}),
    ...(Array.isArray(value.suggestions)
      ? { suggestions: normalizeSuggestions(value.suggestions) }
      : {})
  };
}

/**
 * Well-formed resources: entries without an id or of an unknown kind are
 * dropped (a newer helper's kind has no wording here), and duplicate ids
 * keep their first entry, since suggestions name resources by id.
 */
export function normalizeResources(raw: unknown[]): IResource[] {
  return Private.byId(
    raw,
    value => RESOURCE_KINDS.includes(value.kind as ResourceKind),
    (value, id) => ({
      id,
      kind: value.kind as ResourceKind,
      label: Private.text(value.label) || id,
      detail: Private.text(value.detail),
      held_by: Private.strings(value.held_by),
      cell_id: Private.text(value.cell_id) || null,
      execution_count: Private.count(value.execution_count),
      note: Private.text(value.note) || null
    })
  );
}

/** Well-formed findings; every unreadable figure becomes null (unknown). */
export function normalizeFindings(raw: unknown): IFindings {
  const value = Private.object(raw);
  const figure = (v: unknown) => (Private.isNumber(v) ? v : null);
  const garbage = Private.object(value.cyclic_garbage);
  const gap = Private.object(value.allocator_gap);
  return {
    open_fds: figure(value.open_fds),
    threads: figure(value.threads),
    children: figure(value.children),
    cyclic_garbage:
      Private.isNumber(garbage.objects) && Private.isNumber(garbage.bytes)
        ? { objects: garbage.objects, bytes: garbage.bytes }
        : null,
    allocator_gap:
      value.allocator_gap && typeof value.allocator_gap === 'object'
        ? { bytes: figure(gap.bytes), malloc_trim: gap.malloc_trim === true }
        : null
  };
}

/**
 * Well-formed suggestions. One without an id or with an unknown action is
 * dropped: the front end could neither describe nor confirm it. A later
 * duplicate id is dropped too, so that applying by id is unambiguous.
 */
export function normalizeSuggestions(raw: unknown[]): ISuggestion[] {
  return Private.byId(
    raw,
    value => FIX_ACTIONS.includes(value.action as FixAction),
    (value, id) => {
      const estimate = value.estimated_freed_bytes;
      return {
        id,
        action: value.action as FixAction,
        targets: Private.strings(value.targets),
        code: Private.text(value.code),
        estimated_freed_bytes: Private.isNumber(estimate) ? estimate : null,
        reason: Private.text(value.reason),
        // Anything but an explicit `false` asks first: confirming once too
        // often costs a click, deleting without asking costs data.
        destructive: value.destructive !== false,
        holder_id: Private.text(value.holder_id) || null,
        resource_id: Private.text(value.resource_id) || null
      };
    }
  );
}

/** A well-formed copy of one holder, or null if it has no id or name. */
export function normalizeHolder(raw: unknown): IHolder | null {
  const value = Private.object(raw);
  if (typeof value.id !== 'string' || value.id === '') {
    return null;
  }
  const roots: IHolderRoot[] = (Array.isArray(value.roots) ? value.roots : [])
    .map(Private.object)
    .filter(root => typeof root.label === 'string')
    .map(root => ({
      label: root.label as string,
      kind: Private.kind(root.kind)
    }));
  let labels = Array.isArray(value.labels)
    ? value.labels.filter((l): l is string => typeof l === 'string')
    : [];
  if (labels.length === 0) {
    labels = roots.map(root => root.label);
  }
  if (labels.length === 0) {
    return null;
  }
  const composition = (
    Array.isArray(value.composition) ? value.composition : []
  )
    .map(Private.object)
    .filter(part => typeof part.type === 'string')
    .map(part => ({
      type: part.type as string,
      bytes: Private.number(part.bytes),
      count: Private.number(part.count)
    }));
  const count = value.execution_count;
  return {
    id: value.id,
    labels,
    kind: Private.kind(value.kind ?? roots[0]?.kind),
    roots,
    type: typeof value.type === 'string' ? value.type : '',
    retained_bytes: Private.number(value.retained_bytes),
    objects: Private.number(value.objects),
    path: typeof value.path === 'string' ? value.path : '',
    cell_id:
      typeof value.cell_id === 'string' && value.cell_id !== ''
        ? value.cell_id
        : null,
    execution_count:
      typeof count === 'number' && Number.isFinite(count) ? count : null,
    composition,
    shared: value.shared === true || labels.length > 1,
    device: typeof value.device === 'string' ? value.device : null,
    file_backed: value.file_backed === true
  };
}

namespace Private {
  export function object(value: unknown): Record<string, unknown> {
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  }

  /**
   * The objects in `raw` with a non-empty string id that `known` accepts,
   * each made well formed by `build`; a repeated id keeps its first entry.
   */
  export function byId<T>(
    raw: unknown[],
    known: (value: Record<string, unknown>) => boolean,
    build: (value: Record<string, unknown>, id: string) => T
  ): T[] {
    const entries: T[] = [];
    const seen = new Set<string>();
    for (const item of raw) {
      const value = object(item);
      const id = value.id;
      if (
        typeof id !== 'string' ||
        id === '' ||
        seen.has(id) ||
        !known(value)
      ) {
        continue;
      }
      seen.add(id);
      entries.push(build(value, id));
    }
    return entries;
  }

  /** A finite, non-negative number, else 0. */
  export function number(value: unknown): number {
    return typeof value === 'number' && Number.isFinite(value) && value >= 0
      ? value
      : 0;
  }

  /** Whether `value` is a finite, non-negative number. */
  export function isNumber(value: unknown): value is number {
    return typeof value === 'number' && Number.isFinite(value) && value >= 0;
  }

  /** A string, else the empty string. */
  export function text(value: unknown): string {
    return typeof value === 'string' ? value : '';
  }

  /** The strings of an array (other entries dropped), else none. */
  export function strings(value: unknown): string[] {
    return Array.isArray(value)
      ? value.filter((v): v is string => typeof v === 'string')
      : [];
  }

  /** An execution count, or null. */
  export function count(value: unknown): number | null {
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  }

  export function kind(value: unknown): HolderKind {
    return HOLDER_KINDS.includes(value as HolderKind)
      ? (value as HolderKind)
      : 'variable';
  }
}
