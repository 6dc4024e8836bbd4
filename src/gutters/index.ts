/**
 * The profile gutter: in the cell editor, next to each line a profiled run
 * attributed memory to, its net and at-peak bytes. A CodeMirror 6 gutter
 * injected through `@jupyterlab/codemirror`'s `CodeMirrorEditor`; editing
 * the cell clears it (the figures describe the code as it ran).
 *
 * One `ProfileGutters` per notebook follows its `IProfileModel`: when a
 * profile arrives it marks the profiled cell and the cells whose functions
 * the run called (their "self" lines). A cell the windowed notebook has not
 * rendered yet is marked once it is.
 */

import type { Cell } from '@jupyterlab/cells';
import type { CodeMirrorEditor } from '@jupyterlab/codemirror';
import type { Notebook } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import {
  EditorState,
  Extension,
  RangeSet,
  RangeSetBuilder,
  StateEffect,
  StateField
} from '@codemirror/state';
import { gutter, GutterMarker } from '@codemirror/view';

import type { IProfileChange, IProfileRun } from '../panels/profile/model';
import type { ISettingsSource } from '../settings';
import type { IProfileModel } from '../tokens';
import { gutterMarks, IGutterMark } from './model';

/** The class of the gutter. */
export const GUTTER_CLASS = 'jp-MemoryDoctor-profileGutter';

/** Replaces the marks of an editor (an empty list clears them). */
const setMarks = StateEffect.define<readonly IGutterMark[]>();

/** One line's figures, as a gutter element. */
class FigureMarker extends GutterMarker {
  constructor(readonly mark: IGutterMark) {
    super();
    this.elementClass = mark.self ? 'jp-MemoryDoctor-profileSelf' : '';
  }

  eq(other: GutterMarker): boolean {
    return (
      other instanceof FigureMarker &&
      other.mark.text === this.mark.text &&
      other.mark.title === this.mark.title
    );
  }

  toDOM(): Node {
    const node = document.createElement('span');
    node.className = 'jp-MemoryDoctor-profileFigure';
    node.textContent = this.mark.text; // text only: never HTML
    node.title = this.mark.title;
    return node;
  }
}

/** The marks of a document; an edit clears them. */
const marksField = StateField.define<RangeSet<GutterMarker>>({
  create: () => RangeSet.empty,
  update(value, transaction) {
    for (const effect of transaction.effects) {
      if (effect.is(setMarks)) {
        return markerSet(transaction.state, effect.value);
      }
    }
    return transaction.docChanged ? RangeSet.empty : value;
  }
});

/**
 * Gutter markers at the start of each marked line. A mark whose line no
 * longer holds the text that was profiled is left out.
 */
function markerSet(
  state: EditorState,
  marks: readonly IGutterMark[]
): RangeSet<GutterMarker> {
  const builder = new RangeSetBuilder<GutterMarker>();
  for (const mark of [...marks].sort((a, b) => a.line - b.line)) {
    if (mark.line > state.doc.lines) {
      continue;
    }
    const line = state.doc.line(mark.line);
    if (line.text.trim() !== mark.source) {
      continue;
    }
    builder.add(line.from, line.from, new FigureMarker(mark));
  }
  return builder.finish();
}

/** The editor extension: the marks' state and the gutter that shows them. */
export const profileGutter: Extension = [
  marksField,
  gutter({
    class: GUTTER_CLASS,
    markers: view => view.state.field(marksField)
  })
];

/**
 * Put `marks` into a cell editor's gutter (an empty list clears it).
 * Returns false when the editor is not a CodeMirror editor.
 */
export function showMarks(
  editor: unknown,
  marks: readonly IGutterMark[],
  injected: WeakSet<object>
): boolean {
  const cm = editor as Partial<CodeMirrorEditor> | null;
  if (!cm || typeof cm.injectExtension !== 'function' || !cm.editor) {
    return false;
  }
  if (!injected.has(cm)) {
    cm.injectExtension(profileGutter);
    injected.add(cm);
  }
  cm.editor.dispatch({ effects: setMarks.of(marks) });
  return true;
}

/**
 * Marks a notebook's cells with their latest profile.
 */
export class ProfileGutters implements IDisposable {
  constructor(options: ProfileGutters.IOptions) {
    this._notebook = options.notebook;
    this._profiles = options.profiles;
    this._settings = options.settings;
    this._trans = options.trans;
    this._profiles.changed.connect(this._onProfiles, this);
    this._settings.changed.connect(this._refreshAll, this);
  }

  /** Whether the manager is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The marks shown in a cell now (for tests and the UI tests' checks). */
  marksOf(cellId: string): readonly IGutterMark[] {
    return this._shown.get(cellId)?.marks ?? [];
  }

  /** Stop following; marks already drawn stay until the next edit. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._profiles.changed.disconnect(this._onProfiles, this);
    this._settings.changed.disconnect(this._refreshAll, this);
    this._shown.clear();
  }

  private _onProfiles(_: IProfileModel, change: IProfileChange): void {
    if (change.kind === 'cleared') {
      for (const cellId of [...this._shown.keys()]) {
        this._mark(cellId, null);
      }
      return;
    }
    if (change.kind !== 'profile') {
      return;
    }
    const run = this._profiles.latest;
    if (!run) {
      return;
    }
    const cells = new Set<string>();
    for (const line of run.profile.lines) {
      if (line.cell_id !== null) {
        cells.add(line.cell_id);
      }
    }
    if (run.cellId !== null) {
      cells.add(run.cellId); // an empty profile clears the cell's old marks
    }
    for (const cellId of cells) {
      this._mark(cellId, run);
    }
  }

  private _refreshAll(): void {
    for (const [cellId, shown] of this._shown) {
      this._mark(cellId, shown.run);
    }
  }

  /** Show `run`'s marks in `cellId` (none with null), once the cell is rendered. */
  private _mark(cellId: string, run: IProfileRun | null): void {
    const cell = this._notebook.widgets.find(c => c.model.id === cellId);
    if (!cell) {
      this._shown.delete(cellId);
      return;
    }
    const marks = run
      ? gutterMarks(run.profile, cellId, {
          units: this._settings.current.units,
          trans: this._trans
        })
      : [];
    const source = cell.model.sharedModel.getSource();
    const shown = this._shown.get(cellId);
    if (run && shown?.run === run && shown.source !== source) {
      return; // edited since: the gutter was cleared and stays so
    }
    if (marks.length > 0 && run) {
      this._shown.set(cellId, { run, marks, source });
    } else {
      this._shown.delete(cellId);
    }
    if (!showMarks(cell.editor, marks, this._injected)) {
      this._whenReady(cell, cellId);
    }
  }

  /** Mark a cell the windowed notebook renders later. */
  private _whenReady(cell: Cell, cellId: string): void {
    if (this._waiting.has(cellId)) {
      return;
    }
    this._waiting.add(cellId);
    void cell.ready.then(() => {
      this._waiting.delete(cellId);
      const shown = this._shown.get(cellId);
      if (!this._isDisposed && shown && !cell.isDisposed) {
        if (cell.model.sharedModel.getSource() === shown.source) {
          showMarks(cell.editor, shown.marks, this._injected);
        }
      }
    });
  }

  private _notebook: Notebook;
  private _profiles: IProfileModel;
  private _settings: ISettingsSource;
  private _trans: TranslationBundle;
  private _shown = new Map<string, Private.IShown>();
  private _waiting = new Set<string>();
  private _injected = new WeakSet<object>();
  private _isDisposed = false;
}

/** The namespace for `ProfileGutters` options. */
export namespace ProfileGutters {
  /** Options for `ProfileGutters`. */
  export interface IOptions {
    /** The notebook whose cells get gutters. */
    notebook: Notebook;
    /** The notebook's profiles. */
    profiles: IProfileModel;
    /** Live settings (units). */
    settings: ISettingsSource;
    /** Translation bundle. */
    trans: TranslationBundle;
  }
}

namespace Private {
  /** What a cell's gutter was given, and the source it described. */
  export interface IShown {
    readonly run: IProfileRun;
    readonly marks: readonly IGutterMark[];
    readonly source: string;
  }
}
