/**
 * Defensive reading of a `scan` result. The reply comes from the kernel, and
 * a malformed field must cost one holder or one figure, never the panel.
 */

import {
  HOLDER_KINDS,
  HolderKind,
  IHolder,
  IHolderRoot,
  IScanResult,
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
    holders
  };
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

  /** A finite, non-negative number, else 0. */
  export function number(value: unknown): number {
    return typeof value === 'number' && Number.isFinite(value) && value >= 0
      ? value
      : 0;
  }

  export function kind(value: unknown): HolderKind {
    return HOLDER_KINDS.includes(value as HolderKind)
      ? (value as HolderKind)
      : 'variable';
  }
}
