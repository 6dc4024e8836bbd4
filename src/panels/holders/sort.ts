/**
 * Sorting and filtering of holders: pure functions over the rows.
 */

import type { IHolder } from '../../protocol';

/** A sortable column. */
export type SortKey = 'names' | 'type' | 'retained' | 'objects' | 'cell';

/** A sort direction, named as `aria-sort` names it. */
export type SortDirection = 'ascending' | 'descending';

/** What a filter reads of a holder (or of a brief one). */
export interface ISearchable {
  /** Its names. */
  labels: string[];
  /** Its type. */
  type: string;
}

/** The text a filter matches against: the names and the type. */
export function holderSearchText(holder: ISearchable): string {
  return `${holder.labels.join('\n')}\n${holder.type}`.toLowerCase();
}

/** Text columns start A→Z; figures start largest first. */
export function defaultDirection(key: SortKey): SortDirection {
  return key === 'names' || key === 'type' ? 'ascending' : 'descending';
}

/** The holders whose names or type contain `filter` (any case), as a copy. */
export function filterRows<T extends ISearchable>(
  holders: readonly T[],
  filter: string
): T[] {
  const needle = filter.trim().toLowerCase();
  if (!needle) {
    return holders.slice();
  }
  return holders.filter(holder => holderSearchText(holder).includes(needle));
}

/** Compares names and types as people read them: `v2` before `v10`. */
const collator = new Intl.Collator(undefined, {
  numeric: true,
  sensitivity: 'base'
});

/**
 * Sort `rows` in place and return it. Ties fall back to the larger holder,
 * then the id, so the order is stable across refreshes. A missing cell sorts
 * last in either direction.
 */
export function sortRows<T extends IHolder>(
  rows: T[],
  key: SortKey,
  direction: SortDirection
): T[] {
  const sign = direction === 'ascending' ? 1 : -1;
  const tieBreak = (a: T, b: T) =>
    b.retained_bytes - a.retained_bytes || collator.compare(a.id, b.id);
  let compare: (a: T, b: T) => number;
  switch (key) {
    case 'names': {
      const names = new Map(rows.map(h => [h, h.labels.join(', ')]));
      compare = (a, b) => collator.compare(names.get(a)!, names.get(b)!) * sign;
      break;
    }
    case 'type':
      compare = (a, b) => collator.compare(a.type, b.type) * sign;
      break;
    case 'retained':
      compare = (a, b) => (a.retained_bytes - b.retained_bytes) * sign;
      break;
    case 'objects':
      compare = (a, b) => (a.objects - b.objects) * sign;
      break;
    case 'cell':
      compare = (a, b) => {
        if (a.execution_count === null || b.execution_count === null) {
          return (
            (a.execution_count === null ? 1 : 0) -
            (b.execution_count === null ? 1 : 0)
          );
        }
        return (a.execution_count - b.execution_count) * sign;
      };
      break;
  }
  return rows.sort((a, b) => compare(a, b) || tieBreak(a, b));
}
