/**
 * Identifiers, interfaces and the token other plugins use to reach the
 * per-notebook memory state. Only interfaces: the classes behind them (the
 * service and its models) stay the extension's own.
 */

import type { NotebookPanel } from '@jupyterlab/notebook';
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';

import type {
  IDeathNote,
  IMemoryReading,
  IRunningCell,
  LiveMode,
  MemoryStatus
} from './model';
import type { ReleaseOutcome } from './panels/cluster/model';
import type { FixOutcome } from './panels/fixes/model';
import type { IProfileChange, IProfileRun } from './panels/profile/model';
import type {
  IRunningScan,
  IScanError,
  ScanChange
} from './panels/holders/scan';
import type {
  ICellRecord,
  IClusterHolder,
  IMemoryLimit,
  IScanClusterResult,
  IScanResult,
  ISuggestion,
  ProfileBackend
} from './protocol';
import type { ISettingsStore } from './settings';

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
  /**
   * Tell the user, unobtrusively, that the helper is missing in the kernel
   * of `notebook` and how to install it. The client disposes what it returns
   * (the notification goes) once the helper loads or the kernel changes.
   */
  helperMissing(hint: string, notebook: string): IDisposable | void;
  /** Tell the user, in a dialog, that the versions cannot talk. */
  versionMismatch(message: string): void;
}

/**
 * The memory state of one notebook's kernel, as views see it: connection
 * status, per-cell records, readings, the running cell. Its service writes
 * it; views read it and listen.
 */
export interface IMemoryModel {
  /** The connection status. */
  readonly status: MemoryStatus;
  /** The kernel's resident memory in bytes, or null before a reading. */
  readonly rss: number | null;
  /** The memory limit that applies to the kernel, once the helper said. */
  readonly memoryLimit: IMemoryLimit | null;
  /** The measured cell running now, if any. */
  readonly running: IRunningCell | null;
  /** What was known when the kernel last died, until cleared. */
  readonly lastDeath: IDeathNote | null;
  /** Readings of the kernel's memory over time, oldest first. */
  readonly readings: readonly IMemoryReading[];
  /** Emitted when `status` changes. */
  readonly stateChanged: ISignal<IMemoryModel, MemoryStatus>;
  /** Emitted with a cell id when that cell's history changes. */
  readonly cellChanged: ISignal<IMemoryModel, string>;
  /** Emitted for every live measurement, after `cellChanged`. */
  readonly measured: ISignal<IMemoryModel, ICellRecord>;
  /** Emitted when `rss` changes. */
  readonly rssChanged: ISignal<IMemoryModel, number | null>;
  /**
   * Emitted with the cells whose running or death state changed, and when
   * the memory limit or the death note changes.
   */
  readonly liveChanged: ISignal<IMemoryModel, readonly string[]>;
  /** Ids of the cells that have at least one record. */
  cellIds(): IterableIterator<string>;
  /** A cell's records, oldest first. */
  history(cellId: string): readonly ICellRecord[];
  /** A cell's latest record, if any. */
  last(cellId: string): ICellRecord | undefined;
}

/**
 * The scans of one notebook's kernel: the last result (kept, marked stale,
 * across restarts), the running scan and the last failure. Its service
 * writes them; which rows are open is the views' to change.
 */
export interface IScanModel {
  /** The last complete or partial result, or null. */
  readonly result: IScanResult | null;
  /** When `result` arrived (milliseconds since the epoch), or null. */
  readonly scannedAt: number | null;
  /** The budget (seconds) the scan behind `result` was given. */
  readonly budgetSeconds: number | null;
  /** Whether `result` predates a restart, a kernel change or a death. */
  readonly stale: boolean;
  /** The last failed scan, cleared by the next success or attempt. */
  readonly error: IScanError | null;
  /** The running scan, if any. */
  readonly running: IRunningScan | null;
  /** Emitted with what changed. */
  readonly changed: ISignal<IScanModel, ScanChange>;
  /** Whether a row of `result` shows its details. */
  isExpanded(id: string): boolean;
  /** Show or hide a row's details. */
  toggleExpanded(id: string): void;
}

/**
 * The fixes of one notebook's kernel: the one being applied and the last
 * outcome. Its service writes them; views record "inserted as a cell"
 * outcomes and dismiss them.
 */
export interface IFixModel {
  /** The id of the suggestion being confirmed or applied, or null. */
  readonly applying: string | null;
  /** Whether the sent fix waits for the running cell to end. */
  readonly waiting: boolean;
  /** The last outcome, or null. */
  readonly outcome: FixOutcome | null;
  /** Emitted when anything changed. */
  readonly changed: ISignal<IFixModel, void>;
  /** Record an outcome, or forget it with null. */
  setOutcome(outcome: FixOutcome | null): void;
}

/**
 * Where a fix comes from and where its outcome goes. By default the
 * notebook's latest scan and its fix model; a magic's output passes its own
 * scan and outcome, so its fix buttons go through the same service.
 */
export interface IFixSource {
  /** The scan the suggestion must belong to. */
  readonly scans: Pick<IScanModel, 'result' | 'running' | 'stale'>;
  /** Where the fix in progress and its outcome are recorded. */
  readonly fixes: IFixModel & {
    /** The suggestion being confirmed or applied, or null. */
    setApplying(id: string | null): void;
    /** Whether the sent fix waits for the running cell. */
    setWaiting(waiting: boolean): void;
  };
}

/**
 * The Dask clusters of one notebook's kernel (protocol 1.3): the last
 * `scan_cluster` result, the release in progress and the last outcome. Its
 * service writes them; the side panel's "On the cluster" section reads them.
 */
export interface IClusterModel {
  /** The last `scan_cluster` result, or null before the first. */
  readonly result: IScanClusterResult | null;
  /** When `result` arrived (milliseconds since the epoch), or null. */
  readonly scannedAt: number | null;
  /** Whether `result` predates a restart, a kernel change or a death. */
  readonly stale: boolean;
  /** Whether a `scan_cluster` is on its way. */
  readonly running: boolean;
  /** Why the last `scan_cluster` failed, or null. */
  readonly error: string | null;
  /** The key of the holder being released, or null. */
  readonly releasing: string | null;
  /** The last release's outcome, or null. */
  readonly outcome: ReleaseOutcome | null;
  /** Emitted when anything changed. */
  readonly changed: ISignal<IClusterModel, void>;
  /** Forget the last outcome (null). */
  setOutcome(outcome: null): void;
}

/**
 * What a notebook's service does on request. It alone talks to the kernel
 * helper, and writes what comes back into the entry's models.
 */
export interface IMemoryDoctorService {
  /** Whether the helper answered and requests can be sent. */
  readonly isReady: boolean;
  /** How readings arrive while a cell of the kernel runs. */
  readonly liveMode: LiveMode;
  /** Load the helper into the kernel again (e.g. after installing it). */
  reload(): Promise<void>;
  /** Scan the kernel (unless a scan runs or it is not connected). */
  scan(): Promise<void>;
  /** Stop the running scan; its reply brings the partial result. */
  cancelScan(): Promise<void>;
  /**
   * Apply a suggestion of the latest scan (or of `source`'s, e.g. a magic's
   * output), asking `confirm` first when it is destructive. Resolves with
   * the outcome, or null when nothing was sent.
   */
  applyFix(
    suggestion: ISuggestion,
    confirm: (suggestion: ISuggestion) => Promise<boolean>,
    source?: IFixSource
  ): Promise<FixOutcome | null>;
  /** Forget the notebook's figures: records, readings, the death note. */
  clearFigures(): void;
  /**
   * Ask which names hold what on the kernel's Dask clusters (1.3; absent
   * where no cluster can be shown, e.g. a magic's output).
   */
  scanCluster?(): Promise<void>;
  /**
   * Release one cluster holder: delete its names, then measure on the
   * scheduler; asks `confirm` first (1.3, optional like `scanCluster`).
   */
  releaseCluster?(
    scheduler: string,
    holder: IClusterHolder,
    confirm: (holder: IClusterHolder) => Promise<boolean>
  ): Promise<ReleaseOutcome | null>;
  /**
   * Profile the next run of a cell, line by line (1.3; absent where no
   * profile can be shown). Resolves with the backend the run will get.
   */
  profileNext?(cellId: string): Promise<ProfileBackend>;
  /** Forget a profile asked for and not run yet; whether there was one. */
  cancelProfile?(cellId: string): Promise<boolean>;
}

/**
 * The line profiles of one notebook's kernel (1.3): the cells whose next run
 * is profiled and the profiles received. Its service writes it; the panel
 * and the cell gutters read it.
 */
export interface IProfileModel {
  /** Cells whose next run will be profiled, with the backend they will get. */
  readonly armed: ReadonlyMap<string, ProfileBackend>;
  /** The last profile received, or null. */
  readonly latest: IProfileRun | null;
  /** Whether the profiles predate a restart of the kernel. */
  readonly stale: boolean;
  /** Emitted with what changed. */
  readonly changed: ISignal<IProfileModel, IProfileChange>;
  /** The last profile of a run of `cellId`, if any. */
  forCell(cellId: string): IProfileRun | undefined;
  /** The last profile with lines in `cellId` (its run, or a caller's). */
  latestTouching(cellId: string): IProfileRun | undefined;
}

/** The memory state attached to one notebook. */
export interface IMemoryDoctorEntry {
  /** The notebook. */
  readonly panel: NotebookPanel;
  /** Status, per-cell records and RSS of the notebook's kernel. */
  readonly model: IMemoryModel;
  /** The kernel's scans: the last result, the running one. */
  readonly scans: IScanModel;
  /** The fixes applied to the kernel: the running one, the last outcome. */
  readonly fixes: IFixModel;
  /** Sends requests to the kernel helper and writes the models. */
  readonly service: IMemoryDoctorService;
  /** The kernel's Dask clusters (1.3; absent in test fakes and outputs). */
  readonly clusters?: IClusterModel;
  /** The kernel's line profiles (1.3; absent in test fakes and outputs). */
  readonly profiles?: IProfileModel;
}

/** Maps notebook panels to their memory state, and follows the current one. */
export interface IMemoryDoctorTracker {
  /** The entry for a panel, if the panel is tracked. */
  get(panel: NotebookPanel): IMemoryDoctorEntry | undefined;
  /** The current notebook's entry, or null. */
  readonly current: IMemoryDoctorEntry | null;
  /** Emitted when `current` changes. */
  readonly currentChanged: ISignal<
    IMemoryDoctorTracker,
    IMemoryDoctorEntry | null
  >;
  /** Emitted after a panel got its entry. */
  readonly entryAdded: ISignal<IMemoryDoctorTracker, IMemoryDoctorEntry>;
  /** The live settings. */
  readonly settings: ISettingsStore;
}

/** The token for the `IMemoryDoctorTracker` service. */
export const IMemoryDoctorTracker = new Token<IMemoryDoctorTracker>(
  'jupyterlab-memory-doctor:IMemoryDoctorTracker',
  'Memory state (status, per-cell figures, RSS, scans, fixes) of each open notebook.'
);
