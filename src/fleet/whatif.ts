/**
 * `rekey whatif --set group=NAME,SETTING=MINUTES`: the forecast with changed settings beside the
 * baseline. The changes are recorded at the head of the log through the group's own rules (R1, R2:
 * a value out of range is refused with the rule's message; R4: picked up a day later; R5: a shorter
 * validity or a longer grace can start a renewal at once), in a private copy of the log; both
 * forecasts share their stand-in keys and habits.
 */
import { ARGUMENT_INVALID, RekeyError } from '../kernel/errors.js';
import type { EventStore } from '../store/port.js';
import { forecast, precheck, type Forecast, type ForecastGroup, type ForecastOptions, type SettingChange } from './forecast.js';
import { StandInCache } from './standIn.js';

export interface Difference {
  readonly group: string;
  readonly field: string;
  readonly baseline: unknown;
  readonly whatif: unknown;
}

export interface WhatIf {
  readonly baseline: Forecast;
  readonly whatif: Forecast;
  readonly differences: Difference[];
  /** Extension: the changes, as applied. */
  readonly changes: SettingChange[];
}

const SETTINGS: Readonly<Record<string, SettingChange['setting']>> = {
  keyvalidityperiod: 'keyValidityPeriod',
  groupkeyvalidityperiod: 'keyValidityPeriod',
  validity: 'keyValidityPeriod',
  keyexpirygraceperiod: 'keyExpiryGracePeriod',
  groupkeyexpirygraceperiod: 'keyExpiryGracePeriod',
  grace: 'keyExpiryGracePeriod',
};

/** `group=Finance,keyValidityPeriod=525600[,keyExpiryGracePeriod=64800]` to changes, in order. */
export function parseSet(text: string): SettingChange[] {
  const usage = 'expected group=NAME,SETTING=MINUTES with SETTING keyValidityPeriod or keyExpiryGracePeriod, e.g. --set group=Finance,keyExpiryGracePeriod=64800';
  const fail = (why: string): never => {
    throw new RekeyError(ARGUMENT_INVALID, `--set ${JSON.stringify(text.slice(0, 200))} ${why}; ${usage}`, { option: '--set', value: text.slice(0, 200) }, 'validation');
  };
  const parts = text.split(',').map((part) => part.trim());
  let group: string | undefined;
  const changes: { setting: SettingChange['setting']; minutes: number }[] = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) fail(`has ${JSON.stringify(part)}, which is not KEY=VALUE`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key.toLowerCase() === 'group') {
      if (group !== undefined) fail('names the group twice');
      if (value === '') fail('has an empty group name');
      group = value;
      continue;
    }
    const setting = SETTINGS[key.toLowerCase().replace(/[^a-z]/g, '')];
    if (!setting) fail(`has the setting ${JSON.stringify(key)}`);
    if (!/^-?\d{1,16}$/.test(value)) fail(`gives ${key} the value ${JSON.stringify(value)}, which is not a whole number of minutes`);
    changes.push({ setting: setting!, minutes: Number(value) });
  }
  if (group === undefined) fail('names no group');
  if (changes.length === 0) fail('changes no setting');
  return changes.map((change) => ({ group: group!, ...change }));
}

export async function whatIf(source: EventStore, changes: readonly SettingChange[], options: Omit<ForecastOptions, 'changes' | 'standIns'>): Promise<WhatIf> {
  await precheck(source, { ...options, changes });
  const standIns = new StandInCache(options.keys);
  // The what-if first: a change the rules refuse fails fast, before the baseline is worked out.
  const changed = await forecast(source, { ...options, changes, standIns });
  const baseline = await forecast(source, { ...options, standIns, until: options.until ?? Date.parse(changed.until) });
  return { baseline, whatif: changed, differences: differences(baseline, changed, changes), changes: [...changes] };
}

const FIELDS = ['renewalStart', 'renewalEnd', 'verdict', 'willMiss', 'connectionsToFix', 'newKeyIssuedBy', 'expiresBecause'] as const;

export function differences(baseline: Forecast, changed: Forecast, changes: readonly SettingChange[] = []): Difference[] {
  const out: Difference[] = [];
  const before = new Map(baseline.groups.map((g) => [g.name, g]));
  const after = new Map(changed.groups.map((g) => [g.name, g]));
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  for (const name of names) {
    const a = before.get(name);
    const b = after.get(name);
    for (const change of changes.filter((c) => c.group === name)) {
      const field = change.setting;
      const old = a ? (field === 'keyValidityPeriod' ? a.keyValidityPeriod : a.keyExpiryGracePeriod) : null;
      if (old !== change.minutes) out.push({ group: name, field, baseline: old, whatif: change.minutes });
    }
    if (!a || !b) {
      out.push({ group: name, field: 'forecast', baseline: a ? 'forecast' : 'no renewal', whatif: b ? 'forecast' : 'no renewal' });
      continue;
    }
    for (const field of FIELDS) {
      const x = view(a, field);
      const y = view(b, field);
      if (JSON.stringify(x) !== JSON.stringify(y)) out.push({ group: name, field, baseline: x, whatif: y });
    }
  }
  return out;
}

function view(group: ForecastGroup, field: (typeof FIELDS)[number]): unknown {
  if (field === 'willMiss') return group.willMiss.map((m) => m.machine);
  return group[field];
}
