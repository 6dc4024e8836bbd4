/**
 * Typed user settings with defaults, read from the setting registry and
 * updated live (no reload needed).
 */

import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { Units } from './format';
import {
  DEFAULT_MAX_HOLDERS,
  DEFAULT_SCAN_BUDGET_S,
  MAX_MAX_HOLDERS,
  MAX_SCAN_BUDGET_S
} from './protocol';

/** The settings of `jupyterlab-memory-doctor:plugin` (see schema/plugin.json). */
export interface IMemoryDoctorSettings {
  /** Show a memory line under each measured cell. */
  showBadges: boolean;
  /** Byte units: SI (MB, powers of 1000) or IEC (MiB, powers of 1024). */
  units: Units;
  /** RSS change, in MB (MiB with IEC units), from which a badge warns. */
  deltaWarnMB: number;
  /** RSS change, in MB (MiB with IEC units), from which a badge alerts. */
  deltaAlertMB: number;
  /** Peak increase, in MB (MiB with IEC units), from which a badge warns. */
  peakWarnMB: number;
  /** Peak increase, in MB (MiB with IEC units), from which a badge alerts. */
  peakAlertMB: number;
  /** How many past runs of a cell the tooltip lists. */
  historyLength: number;
  /** Save the last figures of each cell into its metadata. */
  storeInMetadata: boolean;
  /** Trace the Python heap with tracemalloc (slow). */
  tracemalloc: boolean;
  /** Seconds between kernel RSS readings while idle; 0 disables polling. */
  statusRefreshSeconds: number;
  /** Seconds a holders scan may run before it returns partial results. */
  scanBudgetSeconds: number;
  /** Scan again after each cell while the holders panel is visible. */
  autoRefreshHolders: boolean;
  /** How many of the largest holders a scan returns. */
  maxHolders: number;
  /** Read the kernel's memory while a cell runs (needs kernel subshells). */
  liveReadings: boolean;
  /** Percent of the memory limit from which the kernel's memory warns. */
  headroomWarnPercent: number;
}

/** Defaults, identical to those in schema/plugin.json. */
export const DEFAULT_SETTINGS: Readonly<IMemoryDoctorSettings> = Object.freeze({
  showBadges: true,
  units: 'SI',
  deltaWarnMB: 100,
  deltaAlertMB: 1000,
  peakWarnMB: 500,
  peakAlertMB: 2000,
  historyLength: 5,
  storeInMetadata: false,
  tracemalloc: false,
  statusRefreshSeconds: 5,
  scanBudgetSeconds: DEFAULT_SCAN_BUDGET_S,
  autoRefreshHolders: false,
  maxHolders: DEFAULT_MAX_HOLDERS,
  liveReadings: true,
  headroomWarnPercent: 85
});

/**
 * Read settings from a (possibly partial or invalid) composite, falling back
 * to the default for every missing or mistyped key.
 */
export function readSettings(composite: unknown): IMemoryDoctorSettings {
  const source =
    typeof composite === 'object' && composite !== null
      ? (composite as Record<string, unknown>)
      : {};
  const result = { ...DEFAULT_SETTINGS } as IMemoryDoctorSettings;
  const bool = (key: keyof IMemoryDoctorSettings) =>
    typeof source[key] === 'boolean' ? (source[key] as boolean) : undefined;
  const num = (key: keyof IMemoryDoctorSettings) => {
    const value = source[key];
    return typeof value === 'number' && Number.isFinite(value) && value >= 0
      ? value
      : undefined;
  };
  result.showBadges = bool('showBadges') ?? result.showBadges;
  result.storeInMetadata = bool('storeInMetadata') ?? result.storeInMetadata;
  result.tracemalloc = bool('tracemalloc') ?? result.tracemalloc;
  if (source.units === 'SI' || source.units === 'IEC') {
    result.units = source.units;
  }
  result.deltaWarnMB = num('deltaWarnMB') ?? result.deltaWarnMB;
  result.deltaAlertMB = num('deltaAlertMB') ?? result.deltaAlertMB;
  result.peakWarnMB = num('peakWarnMB') ?? result.peakWarnMB;
  result.peakAlertMB = num('peakAlertMB') ?? result.peakAlertMB;
  result.historyLength = Math.floor(
    num('historyLength') ?? result.historyLength
  );
  result.statusRefreshSeconds =
    num('statusRefreshSeconds') ?? result.statusRefreshSeconds;
  result.autoRefreshHolders =
    bool('autoRefreshHolders') ?? result.autoRefreshHolders;
  // A zero budget or holder count would make every scan empty: keep defaults.
  // Above the helper's maximum every scan would be refused: use its maximum.
  const budget = num('scanBudgetSeconds');
  if (budget !== undefined && budget > 0) {
    result.scanBudgetSeconds = Math.min(budget, MAX_SCAN_BUDGET_S);
  }
  const holders = Math.floor(num('maxHolders') ?? 0);
  if (holders >= 1) {
    result.maxHolders = Math.min(holders, MAX_MAX_HOLDERS);
  }
  result.liveReadings = bool('liveReadings') ?? result.liveReadings;
  // 0 % would warn all the time and over 100 % never: keep the default.
  const headroom = num('headroomWarnPercent');
  if (headroom !== undefined && headroom > 0 && headroom <= 100) {
    result.headroomWarnPercent = headroom;
  }
  return result;
}

/** The read side of the settings, as the rest of the extension sees it. */
export interface ISettingsSource {
  /** The current settings. */
  readonly current: Readonly<IMemoryDoctorSettings>;
  /** Emitted after any setting changed, with the previous values. */
  readonly changed: ISignal<ISettingsSource, Readonly<IMemoryDoctorSettings>>;
}

/** The settings with a way to change them (commands toggle some). */
export interface ISettingsStore extends ISettingsSource {
  /** Persist one setting; listeners see it through `changed`. */
  set<K extends keyof IMemoryDoctorSettings>(
    key: K,
    value: IMemoryDoctorSettings[K]
  ): Promise<void>;
}

/**
 * Settings that start at the defaults and follow a setting-registry entry once
 * one is attached.
 */
export class MemoryDoctorSettings implements ISettingsStore, IDisposable {
  /** The current settings. */
  get current(): Readonly<IMemoryDoctorSettings> {
    return this._current;
  }

  /** Emitted after any setting changed, with the previous values. */
  get changed(): ISignal<this, Readonly<IMemoryDoctorSettings>> {
    return this._changed;
  }

  /** Whether the object is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Follow a setting-registry entry: read it now and on every change.
   */
  attach(settings: ISettingRegistry.ISettings): void {
    if (this._settings) {
      this._settings.changed.disconnect(this._onRegistryChanged, this);
    }
    this._settings = settings;
    settings.changed.connect(this._onRegistryChanged, this);
    this._onRegistryChanged();
  }

  /**
   * Persist one setting through the registry (or, when none is attached, only
   * in memory). Listeners see the change through `changed`.
   */
  async set<K extends keyof IMemoryDoctorSettings>(
    key: K,
    value: IMemoryDoctorSettings[K]
  ): Promise<void> {
    if (this._settings) {
      await this._settings.set(key, value);
    } else {
      this.update({ ...this._current, [key]: value });
    }
  }

  /**
   * Replace the settings from a composite; emits `changed` if anything differs.
   */
  update(composite: unknown): void {
    const next = readSettings(composite);
    const previous = this._current;
    const keys = Object.keys(next) as (keyof IMemoryDoctorSettings)[];
    if (keys.every(key => next[key] === previous[key])) {
      return;
    }
    this._current = next;
    this._changed.emit(previous);
  }

  /** Stop following the registry. Safe to call twice. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    if (this._settings) {
      this._settings.changed.disconnect(this._onRegistryChanged, this);
      this._settings = null;
    }
    Signal.clearData(this);
  }

  private _onRegistryChanged(): void {
    if (this._settings) {
      this.update(this._settings.composite);
    }
  }

  private _current: Readonly<IMemoryDoctorSettings> = { ...DEFAULT_SETTINGS };
  private _changed = new Signal<this, Readonly<IMemoryDoctorSettings>>(this);
  private _settings: ISettingRegistry.ISettings | null = null;
  private _isDisposed = false;
}
