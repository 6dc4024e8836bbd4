/**
 * Text for the badge states beyond a finished cell: the running cell's live
 * readings, the note left when the kernel died, and the leak mark. Pure
 * functions returning plain text (shown with textContent and `title`).
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import { formatBytes, formatDuration, SEPARATOR, Units } from '../format';
import { limitSentence } from '../headroom';
import type { IDeathNote, IRunningCell } from '../model';
import type { ICellRecord, IClusterCellEntry, IGrowth } from '../protocol';

/** Options shared by the builders. */
export interface IStateTextOptions {
  /** Byte units. */
  units: Units;
  /** Translation bundle. */
  trans: TranslationBundle;
}

/** A wall-clock time, e.g. `14:03:07`, from epoch seconds. */
export function clockTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toLocaleTimeString();
}

/**
 * The running cell's badge line: `running · RSS 1.2 GB · peak 1.4 GB`, or
 * `running…` until a reading arrives (or when none can).
 */
export function runningText(
  running: IRunningCell,
  options: IStateTextOptions
): string {
  const { units, trans } = options;
  const reading = running.reading;
  if (!reading) {
    return trans.__('running\u2026');
  }
  const parts = [
    trans.__('running'),
    trans.__('RSS %1', formatBytes(reading.rss, units))
  ];
  if (reading.peakRss !== null) {
    parts.push(trans.__('peak %1', formatBytes(reading.peakRss, units)));
  }
  return parts.join(SEPARATOR);
}

/** The running cell's tooltip. */
export function runningTooltip(
  running: IRunningCell,
  options: IStateTextOptions & { limit?: IDeathNote['limit'] }
): string {
  const { units, trans } = options;
  const size = (n: number) => formatBytes(n, units);
  const signed = (n: number) => formatBytes(n, units, { signed: true });
  const lines = [
    running.executionCount === null
      ? trans.__('Memory Doctor \u2014 running')
      : trans.__(
          'Memory Doctor \u2014 run [%1], running',
          running.executionCount
        ),
    trans.__('Started at %1.', clockTime(running.startedAt))
  ];
  const reading = running.reading;
  if (reading) {
    const before = running.rssBefore;
    lines.push(
      trans.__('Live reading at %1:', clockTime(reading.time)),
      before === null
        ? trans.__('RSS now: %1', size(reading.rss))
        : trans.__(
            'RSS now: %1 (%2 since the cell started)',
            size(reading.rss),
            signed(reading.rss - before)
          )
    );
    if (reading.peakRss !== null) {
      lines.push(
        before === null
          ? trans.__('Peak so far: %1', size(reading.peakRss))
          : trans.__(
              'Peak so far: %1 (%2)',
              size(reading.peakRss),
              signed(reading.peakRss - before)
            )
      );
    }
    lines.push(
      trans.__(
        'Running for %1.',
        formatDuration(Math.max(0, reading.time - running.startedAt))
      )
    );
  }
  const limit = limitSentence(
    reading?.rss ?? null,
    options.limit ?? null,
    units,
    trans
  );
  if (limit) {
    lines.push(limit);
  }
  switch (running.live) {
    case 'on':
      if (!reading) {
        lines.push(trans.__('Waiting for the first live reading.'));
      }
      break;
    case 'no-subshells':
      lines.push(
        trans.__(
          'Live readings need kernel subshells (JupyterLab 4.4 or later with ipykernel 7 or later). This kernel reports the figures when the cell ends.'
        )
      );
      break;
    case 'off':
      lines.push(
        trans.__(
          'Live readings are turned off in the settings; the figures come when the cell ends.'
        )
      );
      break;
  }
  return lines.join('\n');
}

/** The badge line of the cell that was running when the kernel died. */
export function deathText(
  note: IDeathNote,
  options: IStateTextOptions
): string {
  const { units, trans } = options;
  const parts = [trans.__('kernel died while running')];
  if (note.reading) {
    parts.push(trans.__('last RSS %1', formatBytes(note.reading.rss, units)));
  }
  return parts.join(SEPARATOR);
}

/** Its tooltip: what was running and the last figures. */
export function deathTooltip(
  note: IDeathNote,
  options: IStateTextOptions
): string {
  const { trans } = options;
  const lines = [
    note.executionCount === null
      ? trans.__(
          'The kernel died (or was killed, possibly out of memory) at %1 while this cell was running.',
          clockTime(note.time)
        )
      : trans.__(
          'The kernel died (or was killed, possibly out of memory) at %1 while this cell was running as [%2].',
          clockTime(note.time),
          note.executionCount
        )
  ];
  lines.push(...readingLines(note, options));
  lines.push(
    trans.__(
      'Variables from before were lost with the kernel. Run the cell again to measure it.'
    )
  );
  return lines.join('\n');
}

/** The last reading and the limit of a death note, one sentence each. */
export function readingLines(
  note: IDeathNote,
  options: IStateTextOptions
): string[] {
  const { units, trans } = options;
  const lines: string[] = [];
  const reading = note.reading;
  if (reading) {
    lines.push(
      reading.peakRss === null
        ? trans.__(
            'Last reading at %1: RSS %2.',
            clockTime(reading.time),
            formatBytes(reading.rss, units)
          )
        : trans.__(
            'Last reading at %1: RSS %2, peak %3.',
            clockTime(reading.time),
            formatBytes(reading.rss, units),
            formatBytes(reading.peakRss, units)
          )
    );
  } else {
    lines.push(trans.__('No reading was taken before it died.'));
  }
  const limit = limitSentence(reading?.rss ?? null, note.limit, units, trans);
  if (limit) {
    lines.push(limit);
  }
  return lines;
}

/** The growth of a record when it is flagged as a leak, else null. */
export function flaggedGrowth(record: ICellRecord | undefined): IGrowth | null {
  const growth = record?.growth;
  return growth && growth.flagged === true && typeof growth.runs === 'number'
    ? growth
    : null;
}

/**
 * Why a cell is flagged: how much each re-run left behind, and what grew.
 * `what_grew` comes from the kernel and is shown as text.
 */
export function leakExplanation(
  growth: IGrowth,
  options: IStateTextOptions
): string {
  const { units, trans } = options;
  const lines = [
    trans.__(
      'Possible leak: each of the last %1 runs of this cell left about %2 more memory behind.',
      growth.runs,
      formatBytes(growth.growth_per_run_bytes, units, { signed: true })
    )
  ];
  const grew = Array.isArray(growth.what_grew)
    ? growth.what_grew.filter(item => typeof item === 'string')
    : [];
  lines.push(
    grew.length > 0
      ? trans.__('What grew in the last run: %1.', grew.join('; '))
      : trans.__(
          'What grew could not be named (memory outside Python objects?).'
        )
  );
  return lines.join('\n');
}

/**
 * What the run did on the kernel's Dask clusters (protocol 1.3), for the
 * tooltip: the key-attributed delta (exact), then each scheduler's memory
 * before and after from the workers' heartbeats; empty without a cluster.
 */
export function clusterLines(
  record: ICellRecord | undefined,
  options: IStateTextOptions
): string[] {
  const { units, trans } = options;
  const cluster = record?.cluster;
  if (!cluster) {
    return [];
  }
  if (cluster.pending) {
    return [
      trans.__(
        'Dask cluster: measuring (the workers report about a second after the cell)\u2026'
      )
    ];
  }
  const lines: string[] = [];
  if (cluster.delta_bytes !== null) {
    lines.push(
      trans.__(
        'Dask cluster: %1 held by this run',
        formatBytes(cluster.delta_bytes, units, { signed: true })
      )
    );
  }
  for (const entry of cluster.clusters) {
    lines.push(...Private.entryLines(entry, options));
  }
  return lines;
}

namespace Private {
  /** One scheduler's lines: keys, then memory before → after, or why not. */
  export function entryLines(
    entry: IClusterCellEntry,
    options: IStateTextOptions
  ): string[] {
    const { units, trans } = options;
    const size = (n: number) => formatBytes(n, units);
    if (entry.status !== 'ok' || !entry.keys || !entry.after) {
      return [
        trans.__(
          'Dask cluster %1 not measured: %2',
          entry.scheduler,
          entry.error ?? entry.status
        )
      ];
    }
    const keys = entry.keys;
    const lines = [
      trans.__(
        '%1: %2 keys added (%3), %4 released (%5)',
        entry.scheduler,
        keys.added,
        size(keys.bytes_added),
        keys.removed,
        size(keys.bytes_removed)
      )
    ];
    if (keys.pending_keys > 0) {
      lines.push(
        trans._n(
          '%1 key was still computing: its size is not counted.',
          '%1 keys were still computing: their size is not counted.',
          keys.pending_keys
        )
      );
    }
    if (keys.removed_unknown > 0) {
      lines.push(
        trans._n(
          '%1 released key was persisted before Memory Doctor saw it: its size is not counted.',
          '%1 released keys were persisted before Memory Doctor saw them: their size is not counted.',
          keys.removed_unknown
        )
      );
    }
    const before = entry.before;
    const after = entry.after;
    const change = (a: number, b: number | undefined) =>
      b === undefined ? size(a) : `${size(b)} \u2192 ${size(a)}`;
    lines.push(
      trans.__(
        'Workers (%1): memory %2, managed %3, spilled %4, unmanaged %5',
        after.workers,
        change(after.memory, before?.memory),
        change(after.managed, before?.managed),
        change(after.spilled, before?.spilled),
        change(after.unmanaged, before?.unmanaged)
      )
    );
    if (!entry.settled) {
      lines.push(
        trans.__(
          "Some workers had not reported since the cell ended: the memory figures may lag; the keys' bytes do not."
        )
      );
    }
    return lines;
  }
}
