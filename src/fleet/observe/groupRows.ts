/**
 * Reading the flowmachinegroups export: every cell of a group row checked (ids, names, periods with
 * R1/R2, key cells and dates, choice codes), and the validity of the current key worked out from
 * rekey_keyexpirydate or the certificate when the export gives them.
 */
import { checkGrace, checkValidity } from '../../domain/periods.js';
import { MS_PER_MINUTE, toIso } from '../../domain/time.js';
import type { ExportFile, ExportRow } from '../exportFiles.js';
import type { ObservedGroup } from './observed.js';
import { RowReader, type Located, type RowChecks } from './rowReader.js';

/** The stand-in name of a primary key whose primarypublickey the export left out. */
function unexportedKey(row: ExportRow): string {
  const id = row.cells.get('flowmachinegroupid');
  return `unexported-primary-key-of-${typeof id === 'string' ? id.replace(/^\{(.*)\}$/, '$1') : 'group'}`;
}

export function readGroupRows(exports: readonly ExportFile[], { instants, note }: RowChecks): { groups: Located<ObservedGroup>[]; groupKeys: Set<string> } {
  const groups: Located<ObservedGroup>[] = [];
  /** Ids and names of every group row, good or bad: a machine naming a bad one is told so. */
  const groupKeys = new Set<string>();
  for (const file of exports.filter((f) => f.table === 'flowmachinegroups')) {
    for (const row of file.rows) {
      const r = new RowReader(row, 'flowmachinegroups');
      const groupId = r.id('flowmachinegroupid');
      const name = r.name('name');
      for (const key of [row.cells.get('flowmachinegroupid'), row.cells.get('name')]) if (typeof key === 'string') groupKeys.add(key);
      const validity = r.minutes('keyvalidityperiod', checkValidity);
      const grace = validity === undefined ? r.minutes('keyexpirygraceperiod', (g) => g) : r.minutes('keyexpirygraceperiod', (g) => checkGrace(g, validity));
      const primaryCell = r.publicKey('primarypublickey');
      const secondaryCell = r.publicKey('secondarypublickey');
      // A certificate in primarypublickey dates the key when keycreationdate is not exported.
      const givenCreation = r.instant('keycreationdate', false);
      const keyCreatedAt = givenCreation === null ? primaryCell?.notBefore ?? null : givenCreation;
      // primarypublickey is "Internal Use Only" and in no default view: without it, the key is
      // named after its group, so that its dates (keycreationdate) still drive the forecast.
      const primary = primaryCell === null && typeof keyCreatedAt === 'number' ? unexportedKey(row) : primaryCell?.thumbprint;
      const secondary = secondaryCell === null ? null : secondaryCell?.thumbprint;
      if (keyCreatedAt === null && typeof primary === 'string') r.problem('keycreationdate', 'is empty but primarypublickey is set; expected the creation date of the primary key');
      if (typeof secondary === 'string' && (primaryCell === null || keyCreatedAt === null)) r.problem('secondarypublickey', 'is set but primarypublickey or keycreationdate is empty; a retiring key needs a primary one');
      const statecode = r.choice('statecode');
      const statuscode = r.choice('statuscode');
      const passwordChangedAt = r.instant('passwordchangeddate', false);
      const rotationStartedBy = r.text('rotationstartedby', false);
      const createdOn = r.instant('createdon', false);
      const modifiedOn = r.instant('modifiedon', false);
      const expiry = r.instant('rekey_keyexpirydate', false);
      const nextRenewal = r.instant('rekey_nextrenewaldate', false);
      const renewalEndsAt = r.instant('rekey_renewalendsat', false);
      const renewalState = r.oneOf('rekey_renewalstate', ['None', 'Renewing', 'Expired'] as const, false);
      const regenerate = r.boolean('rekey_passwordregenerationrequired');
      r.text('rekey_message', false);
      const proactive = r.boolean('rekey_proactivereencryption');
      if ((statecode === 1) !== (statuscode === 4) && statecode !== null && statuscode !== null && statecode !== undefined && statuscode !== undefined) {
        r.problem('statuscode', `${statuscode} does not go with statecode ${statecode}; expected statecode 0 with statuscode 1 (Active) or statecode 1 with statuscode 4 (KeyExpired)`);
      }
      let keyValidity = validity;
      const certificateMinutes = primaryCell?.notAfter !== undefined && primaryCell.notBefore !== undefined ? (primaryCell.notAfter - primaryCell.notBefore) / MS_PER_MINUTE : undefined;
      if (expiry === null && certificateMinutes !== undefined && Number.isInteger(certificateMinutes) && certificateMinutes > 0) keyValidity = certificateMinutes;
      if (typeof expiry === 'number' && typeof keyCreatedAt === 'number') {
        const minutes = (expiry - keyCreatedAt) / MS_PER_MINUTE;
        if (!Number.isInteger(minutes) || minutes <= 0) r.problem('rekey_keyexpirydate', `${toIso(expiry)} is not a whole number of minutes after keycreationdate ${toIso(keyCreatedAt)}`);
        else keyValidity = minutes;
      }
      for (const at of [keyCreatedAt, passwordChangedAt, createdOn, modifiedOn]) if (typeof at === 'number') instants.push(at);
      note(r, row);
      if (r.problems.length > 0) continue;
      groups.push({
        row,
        value: {
          source: row.file,
          groupId: groupId!,
          name: name!,
          validity: validity!,
          grace: grace!,
          keyCreatedAt: keyCreatedAt ?? null,
          keyValidity: keyValidity!,
          primary: primary ?? null,
          secondary: secondary ?? null,
          expired: statecode === 1 || statuscode === 4 || renewalState === 'Expired',
          passwordChangedAt: passwordChangedAt ?? null,
          rotationStartedBy: rotationStartedBy ?? null,
          createdOn: createdOn ?? null,
          renewalEndsAt: renewalEndsAt ?? null,
          renewalState: renewalState ?? null,
          nextRenewalDate: nextRenewal ?? null,
          passwordRegenerationRequired: regenerate ?? null,
          proactiveReencryption: proactive ?? false,
        },
      });
    }
  }
  return { groups, groupKeys };
}
