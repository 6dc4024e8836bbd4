import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';

import {
  DEFAULT_MAX_HOLDERS,
  DEFAULT_SCAN_BUDGET_S,
  MAX_MAX_HOLDERS,
  MAX_SCAN_BUDGET_S
} from '../protocol';
import {
  DEFAULT_SETTINGS,
  MemoryDoctorSettings,
  readSettings
} from '../settings';

import schema from '../../schema/plugin.json';

describe('readSettings', () => {
  it('returns the defaults for nothing', () => {
    expect(readSettings(undefined)).toEqual(DEFAULT_SETTINGS);
    expect(readSettings({})).toEqual(DEFAULT_SETTINGS);
  });

  it('keeps valid values of a partial composite and defaults the rest', () => {
    const settings = readSettings({ units: 'IEC', peakWarnMB: 42 });
    expect(settings.units).toBe('IEC');
    expect(settings.peakWarnMB).toBe(42);
    expect(settings.showBadges).toBe(true);
    expect(settings.statusRefreshSeconds).toBe(5);
  });

  it('ignores mistyped or out-of-range values', () => {
    const settings = readSettings({
      units: 'metric',
      showBadges: 'yes',
      deltaWarnMB: -1,
      historyLength: NaN
    });
    expect(settings.units).toBe('SI');
    expect(settings.showBadges).toBe(true);
    expect(settings.deltaWarnMB).toBe(100);
    expect(settings.historyLength).toBe(5);
  });

  it('agrees with the schema defaults', () => {
    const defaults: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(schema.properties)) {
      defaults[key] = (value as { default: unknown }).default;
    }
    expect(defaults).toEqual(DEFAULT_SETTINGS);
    for (const value of Object.values(schema.properties)) {
      const property = value as Record<string, unknown>;
      expect(typeof property.title).toBe('string');
      expect(typeof property.description).toBe('string');
    }
  });

  it('allows no more than the helper accepts, and defaults to its defaults', () => {
    const { scanBudgetSeconds, maxHolders } = schema.properties;
    expect(maxHolders.maximum).toBe(MAX_MAX_HOLDERS);
    expect(maxHolders.default).toBe(DEFAULT_MAX_HOLDERS);
    expect(scanBudgetSeconds.maximum).toBe(MAX_SCAN_BUDGET_S);
    expect(scanBudgetSeconds.default).toBe(DEFAULT_SCAN_BUDGET_S);
    // A composite from elsewhere than the registry is capped too.
    const settings = readSettings({
      maxHolders: 20000,
      scanBudgetSeconds: 1000
    });
    expect(settings.maxHolders).toBe(MAX_MAX_HOLDERS);
    expect(settings.scanBudgetSeconds).toBe(MAX_SCAN_BUDGET_S);
  });
});

describe('MemoryDoctorSettings', () => {
  it('follows a registry entry live and reports the previous values', () => {
    const changed = new Signal<object, void>({});
    const registry = {
      composite: { showBadges: true } as Record<string, unknown>,
      changed,
      set: jest.fn()
    };
    const settings = new MemoryDoctorSettings();
    const seen: boolean[] = [];
    settings.changed.connect((_, previous) => seen.push(previous.showBadges));
    settings.attach(registry as unknown as ISettingRegistry.ISettings);
    expect(seen).toEqual([]); // Same as the defaults: no change.
    registry.composite = { showBadges: false };
    changed.emit();
    expect(settings.current.showBadges).toBe(false);
    expect(seen).toEqual([true]);
    settings.dispose();
    settings.dispose();
    expect(settings.isDisposed).toBe(true);
  });

  it('writes through the registry when attached', async () => {
    const registry = {
      composite: {},
      changed: new Signal<object, void>({}),
      set: jest.fn(() => Promise.resolve())
    };
    const settings = new MemoryDoctorSettings();
    settings.attach(registry as unknown as ISettingRegistry.ISettings);
    await settings.set('showBadges', false);
    expect(registry.set).toHaveBeenCalledWith('showBadges', false);
  });

  it('reads the live-reading and headroom settings, refusing useless thresholds', () => {
    expect(
      readSettings({ liveReadings: false, headroomWarnPercent: 90 })
    ).toMatchObject({ liveReadings: false, headroomWarnPercent: 90 });
    for (const bad of [0, 101, -5, 'high', null]) {
      expect(
        readSettings({ headroomWarnPercent: bad }).headroomWarnPercent
      ).toBe(DEFAULT_SETTINGS.headroomWarnPercent);
    }
    expect(readSettings({ liveReadings: 'yes' }).liveReadings).toBe(true);
  });

  it('keeps values in memory without a registry', async () => {
    const settings = new MemoryDoctorSettings();
    await settings.set('units', 'IEC');
    expect(settings.current.units).toBe('IEC');
  });
});
