/** Refusals of the machine group decider; each code is catalogued in docs/contract.md. */
import { errorKind } from '../../kernel/errors.js';

export const GROUP_NOT_FOUND = errorKind('GROUP_NOT_FOUND', 'not_found');
export const GROUP_EXISTS = errorKind('GROUP_EXISTS', 'conflict');
export const GROUP_DELETED = errorKind('GROUP_DELETED', 'refused');
export const GROUP_KEY_EXPIRED = errorKind('GROUP_KEY_EXPIRED', 'refused');
export const GROUP_PASSWORD_STALE = errorKind('GROUP_PASSWORD_STALE', 'refused');
export const GROUP_FULL = errorKind('GROUP_FULL', 'refused');
export const GROUP_HAS_KEY = errorKind('GROUP_HAS_KEY', 'refused');
export const MACHINE_IN_OTHER_GROUP = errorKind('MACHINE_IN_OTHER_GROUP', 'refused');
export const MACHINE_ALREADY_MEMBER = errorKind('MACHINE_ALREADY_MEMBER', 'refused');
export const MACHINE_NOT_MEMBER = errorKind('MACHINE_NOT_MEMBER', 'not_found');
export const MACHINE_KEY_EXPIRED = errorKind('MACHINE_KEY_EXPIRED', 'refused');
export const AGENT_OUTDATED = errorKind('AGENT_OUTDATED', 'refused');
export const CERTIFICATE_DATES_MISMATCH = errorKind('CERTIFICATE_DATES_MISMATCH', 'validation');
export const NO_RENEWAL_IN_PROGRESS = errorKind('NO_RENEWAL_IN_PROGRESS', 'refused');
export const KEY_ALREADY_ISSUED = errorKind('KEY_ALREADY_ISSUED', 'conflict');
export const NEW_KEY_NOT_ISSUED = errorKind('NEW_KEY_NOT_ISSUED', 'refused');
export const KEY_NOT_HELD = errorKind('KEY_NOT_HELD', 'refused');
export const NAME_INVALID = errorKind('NAME_INVALID', 'validation');

/** R9 */
export const MAX_MACHINES_PER_GROUP = 50;
