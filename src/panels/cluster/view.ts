/**
 * The "On the cluster" section of the Memory Doctor side panel: for each Dask
 * scheduler the kernel is connected to, its workers (memory, managed,
 * spilled, unmanaged, headroom against the limit) and the names holding keys
 * on it, each with its size, where it lives, what to do, and a Release button
 * when deleting the names releases it. It shows nothing for a kernel without
 * a Dask client. It reads the notebook's `IClusterModel` and asks its service.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { formatBytes } from '../../format';
import type {
  IClusterHolder,
  IClusterSection,
  IClusterWorker
} from '../../protocol';
import type { ISettingsSource } from '../../settings';
import type { IClusterModel, IMemoryDoctorEntry } from '../../tokens';
import { el, nextId } from '../shared/dom';
import { holderKey } from './model';
import {
  confirmText,
  headroom,
  headroomText,
  holderAdvice,
  holderNames,
  holderSize,
  holderWorkers,
  ITextOptions,
  outcomeText,
  statusText
} from './text';

/** The class of the section. */
export const CLUSTER_CLASS = 'jp-MemoryDoctor-cluster';

/** Asks before a release; resolves true to go ahead. */
export type ConfirmRelease = (question: string) => Promise<boolean>;

/**
 * The section. It follows the entry it is given (`setEntry`) and is hidden
 * while that kernel holds no Dask client.
 */
export class ClusterSection extends Widget {
  constructor(options: ClusterSection.IOptions) {
    super();
    this.addClass(CLUSTER_CLASS);
    this._settings = options.settings;
    this._trans = options.trans;
    this._confirm =
      options.confirm ?? (question => Private.confirm(question, this._trans));
    this._build();
    this._settings.changed.connect(this._render, this);
    this.hide();
  }

  /** The followed notebook's entry, if any. */
  get entry(): IMemoryDoctorEntry | null {
    return this._entry;
  }

  /** Follow another notebook (or none). */
  setEntry(entry: IMemoryDoctorEntry | null): void {
    if (entry === this._entry) {
      return;
    }
    this._entry?.clusters?.changed.disconnect(this._render, this);
    this._entry = entry;
    entry?.clusters?.changed.connect(this._render, this);
    this._render();
  }

  /** Ask the followed kernel again (Refresh). */
  async refresh(): Promise<void> {
    await this._entry?.service.scanCluster?.();
  }

  /**
   * Release a holder of the followed kernel's cluster `scheduler`, after the
   * confirmation; resolves once the outcome is in the model.
   */
  async release(scheduler: string, holder: IClusterHolder): Promise<void> {
    const service = this._entry?.service;
    const options = this._text();
    await service?.releaseCluster?.(scheduler, holder, h =>
      this._confirm(confirmText(h, options))
    );
  }

  /** Stop following. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.setEntry(null);
    this._settings.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _text(): ITextOptions {
    return { units: this._settings.current.units, trans: this._trans };
  }

  private _build(): void {
    const trans = this._trans;
    const heading = el('h3', 'jp-MemoryDoctor-clusterHeading');
    const toggle = this._toggle;
    toggle.type = 'button';
    toggle.className = 'jp-MemoryDoctor-clusterToggle';
    toggle.textContent = trans.__('On the cluster');
    toggle.setAttribute('aria-expanded', 'true');
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      this._body.hidden = !open;
    });
    heading.appendChild(toggle);
    const refresh = this._refresh;
    refresh.type = 'button';
    refresh.className = 'jp-MemoryDoctor-clusterRefresh jp-mod-styled';
    refresh.textContent = trans.__('Refresh');
    refresh.title = trans.__('Ask the Dask scheduler again');
    // Not "Refresh" alone: the holders part above has one too.
    refresh.setAttribute('aria-label', trans.__('Refresh the cluster'));
    refresh.addEventListener('click', () => void this.refresh());
    heading.appendChild(refresh);
    this.node.appendChild(heading);
    const body = this._body;
    body.className = 'jp-MemoryDoctor-clusterBody';
    body.id = `jp-MemoryDoctor-clusterBody-${nextId()}`;
    toggle.setAttribute('aria-controls', body.id);
    this._status.className = 'jp-MemoryDoctor-clusterStatus';
    this._status.setAttribute('role', 'status');
    body.appendChild(this._status);
    body.appendChild(this._content);
    this.node.appendChild(body);
  }

  private _render(): void {
    const clusters = this._entry?.clusters;
    const result = clusters?.result ?? null;
    if (!clusters || !result || result.clusters.length === 0) {
      this.hide();
      return;
    }
    this.show();
    const trans = this._trans;
    this._refresh.disabled = clusters.running;
    this._status.textContent = Private.status(clusters, this._text());
    const content = this._content;
    content.textContent = '';
    for (const section of result.clusters) {
      content.appendChild(this._scheduler(section, clusters));
    }
    if (result.walk?.truncated) {
      content.appendChild(
        el(
          'p',
          'jp-MemoryDoctor-clusterNote',
          trans.__(
            'The namespace was too large to walk whole: some names may be missing, their keys counted with the unnamed ones.'
          )
        )
      );
    }
  }

  private _scheduler(
    section: IClusterSection,
    clusters: IClusterModel
  ): HTMLElement {
    const trans = this._trans;
    const options = this._text();
    const box = el('section', 'jp-MemoryDoctor-clusterScheduler');
    box.setAttribute('aria-label', trans.__('Scheduler %1', section.scheduler));
    const title = el('h4', 'jp-MemoryDoctor-clusterAddress', section.scheduler);
    box.appendChild(title);
    if (section.status !== 'ok') {
      const problem = el(
        'p',
        'jp-MemoryDoctor-clusterProblem',
        statusText(section, trans)
      );
      problem.setAttribute('role', 'alert');
      box.appendChild(problem);
    }
    if (section.workers.length > 0) {
      box.appendChild(this._workers(section.workers));
    }
    box.appendChild(this._holders(section, clusters, options));
    return box;
  }

  private _workers(workers: readonly IClusterWorker[]): HTMLElement {
    const trans = this._trans;
    const options = this._text();
    const units = options.units;
    const table = el('table', 'jp-MemoryDoctor-clusterWorkers');
    table.appendChild(el('caption', '', trans.__('Workers')));
    table.appendChild(
      Private.head([
        trans.__('Worker'),
        trans.__('Memory'),
        trans.__('Managed'),
        trans.__('Spilled'),
        trans.__('Unmanaged'),
        trans.__('Headroom')
      ])
    );
    const body = el('tbody', '');
    for (const w of workers) {
      const row = el('tr', '');
      row.appendChild(el('th', 'jp-MemoryDoctor-clusterName', w.name));
      for (const figure of [w.memory, w.managed, w.spilled, w.unmanaged]) {
        row.appendChild(
          el('td', 'jp-MemoryDoctor-clusterBytes', formatBytes(figure, units))
        );
      }
      const room = el(
        'td',
        'jp-MemoryDoctor-clusterHeadroom',
        headroomText(w, options)
      );
      const free = headroom(w);
      if (free !== null && w.memory_limit && free < 0.1 * w.memory_limit) {
        room.classList.add('jp-mod-warn');
      }
      row.appendChild(room);
      body.appendChild(row);
    }
    table.appendChild(body);
    return table;
  }

  private _holders(
    section: IClusterSection,
    clusters: IClusterModel,
    options: ITextOptions
  ): HTMLElement {
    const trans = this._trans;
    if (section.holders.length === 0) {
      return el(
        'p',
        'jp-MemoryDoctor-clusterNote',
        trans.__('No name in the kernel holds futures on this cluster.')
      );
    }
    const table = el('table', 'jp-MemoryDoctor-clusterHolders');
    table.appendChild(el('caption', '', trans.__('Held by')));
    table.appendChild(
      Private.head([
        trans.__('Names'),
        trans.__('Size'),
        trans.__('Keys'),
        trans.__('Where'),
        trans.__('What to do')
      ])
    );
    const body = el('tbody', '');
    for (const holder of section.holders) {
      body.appendChild(this._holder(section.scheduler, holder, clusters));
    }
    table.appendChild(body);
    return table;
  }

  private _holder(
    scheduler: string,
    holder: IClusterHolder,
    clusters: IClusterModel
  ): HTMLElement {
    const trans = this._trans;
    const options = this._text();
    const row = el('tr', 'jp-MemoryDoctor-clusterHolder');
    row.appendChild(
      el('th', 'jp-MemoryDoctor-clusterNames', holderNames(holder, trans))
    );
    row.appendChild(
      el('td', 'jp-MemoryDoctor-clusterBytes', holderSize(holder, options))
    );
    row.appendChild(
      el('td', 'jp-MemoryDoctor-clusterBytes', String(holder.keys))
    );
    const where = holderWorkers(holder, options.units);
    const spilled = holder.spilled
      ? trans.__(
          '%1 spilled to disk',
          formatBytes(holder.spilled, options.units)
        )
      : '';
    row.appendChild(
      el(
        'td',
        'jp-MemoryDoctor-clusterWhere',
        [where, spilled].filter(Boolean).join('; ')
      )
    );
    const action = el('td', 'jp-MemoryDoctor-clusterAction');
    action.appendChild(
      el('span', 'jp-MemoryDoctor-clusterAdvice', holderAdvice(holder, trans))
    );
    if (holder.releasable) {
      const key = holderKey(scheduler, holder);
      const button = el(
        'button',
        'jp-MemoryDoctor-clusterRelease jp-mod-styled',
        clusters.releasing === key
          ? trans.__('Releasing\u2026')
          : trans.__('Release')
      );
      button.type = 'button';
      button.disabled = clusters.releasing !== null || clusters.stale;
      button.setAttribute(
        'aria-label',
        trans.__('Release %1', holder.labels.join(', '))
      );
      button.addEventListener(
        'click',
        () => void this.release(scheduler, holder)
      );
      action.appendChild(button);
    }
    row.appendChild(action);
    return row;
  }

  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _confirm: ConfirmRelease;
  private _entry: IMemoryDoctorEntry | null = null;
  private _toggle = document.createElement('button');
  private _refresh = document.createElement('button');
  private _body = document.createElement('div');
  private _status = document.createElement('p');
  private _content = document.createElement('div');
}

/** The namespace for `ClusterSection` options. */
export namespace ClusterSection {
  /** Options for a `ClusterSection`. */
  export interface IOptions {
    /** Live settings (units). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
    /** Asks before a release; defaults to a dialog. */
    confirm?: ConfirmRelease;
  }
}

namespace Private {
  /** A table head row. */
  export function head(labels: string[]): HTMLElement {
    const thead = el('thead', '');
    const row = el('tr', '');
    for (const label of labels) {
      const th = el('th', '', label);
      th.scope = 'col';
      row.appendChild(th);
    }
    thead.appendChild(row);
    return thead;
  }

  /** The section's status line: the last outcome, a failure, or staleness. */
  export function status(
    clusters: IClusterModel,
    options: ITextOptions
  ): string {
    const { trans } = options;
    const parts: string[] = [];
    if (clusters.outcome) {
      parts.push(outcomeText(clusters.outcome, options));
    }
    if (clusters.error) {
      parts.push(trans.__('Asking the cluster failed: %1', clusters.error));
    }
    if (clusters.stale) {
      parts.push(
        trans.__('The kernel restarted since: these figures are from before.')
      );
    }
    if (clusters.running) {
      parts.push(trans.__('Asking the cluster\u2026'));
    }
    return parts.join(' ');
  }

  /** The default confirmation: a dialog. */
  export async function confirm(
    question: string,
    trans: TranslationBundle
  ): Promise<boolean> {
    const result = await showDialog({
      title: trans.__('Release from the Dask cluster'),
      body: question,
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Release') })
      ]
    });
    return result.button.accept;
  }
}
