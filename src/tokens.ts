/**
 * Identifiers, interfaces and the token other plugins use to reach the
 * per-notebook memory state.
 */

import type { NotebookPanel } from '@jupyterlab/notebook';
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

import type { MemoryModel } from './model';
import type { FixModel } from './panels/fixes/model';
import type { ScanModel } from './panels/holders/scan';
import type { MemoryDoctorService } from './service';
import type { MemoryDoctorSettings } from './settings';

/** The main plugin id; also the settings schema id (schema/plugin.json). */
export const PLUGIN_ID = 'jupyterlab-memory-doctor:plugin';

/** The status bar plugin id. */
export const STATUS_PLUGIN_ID = 'jupyterlab-memory-doctor:status';

/** The translation domain of this extension. */
export const TRANSLATION_DOMAIN = 'jupyterlab_memory_doctor';

/**
 * The package version. package.json is the single source; a jest test checks
 * that this copy agrees (tsc's rootDir keeps package.json out of `src`).
 */
export const PACKAGE_VERSION = '0.1.0';

/** How the front end introduces itself in `comm_open`. */
export const CLIENT_NAME = `jupyterlab-memory-doctor ${PACKAGE_VERSION}`;

/** The metadata key written when `storeInMetadata` is on. */
export const METADATA_KEY = 'memory_doctor';

/**
 * The user-facing side effects of the kernel client, behind an interface so
 * tests can record them instead of opening dialogs.
 */
export interface IUserInterface {
  /** Tell the user, unobtrusively, how to install the missing helper. */
  helperMissing(hint: string): void;
  /** Tell the user, in a dialog, that the versions cannot talk. */
  versionMismatch(message: string): void;
}

/** The memory state attached to one notebook. */
export interface IMemoryDoctorEntry {
  /** Status, per-cell records and RSS of the notebook's kernel. */
  readonly model: MemoryModel;
  /** The kernel's scans: the last result, the running one. */
  readonly scans: ScanModel;
  /** The fixes applied to the kernel: the running one, the last outcome. */
  readonly fixes: FixModel;
  /** Sends requests to the kernel helper and writes the models. */
  readonly service: MemoryDoctorService;
}

/** Maps notebook panels to their memory state. */
export interface IMemoryDoctorTracker {
  /** The entry for a panel, if the panel is tracked. */
  get(panel: NotebookPanel): IMemoryDoctorEntry | undefined;
  /** Emitted after a panel got its entry. */
  readonly entryAdded: ISignal<IMemoryDoctorTracker, NotebookPanel>;
  /** The live settings. */
  readonly settings: MemoryDoctorSettings;
}

/** The token for the `IMemoryDoctorTracker` service. */
export const IMemoryDoctorTracker = new Token<IMemoryDoctorTracker>(
  'jupyterlab-memory-doctor:IMemoryDoctorTracker',
  'Memory state (status, per-cell figures, RSS) of each open notebook.'
);
