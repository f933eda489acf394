/**
 * R8: agent versions are dotted numbers compared numerically (2.9 < 2.23). Versions from 2.23 on take
 * part in renewals; older ones neither issue nor take a renewal key.
 */
import { RekeyError, errorKind } from '../kernel/errors.js';

export const AGENT_VERSION_INVALID = errorKind('AGENT_VERSION_INVALID', 'validation');
export const MINIMUM_RENEWAL_AGENT = '2.23';

const DOTTED = /^\d{1,9}(\.\d{1,9}){0,3}$/;

export function parseAgentVersion(text: unknown): number[] {
  if (typeof text !== 'string' || !DOTTED.test(text)) {
    throw new RekeyError(
      AGENT_VERSION_INVALID,
      `agentVersion ${JSON.stringify(text)} is not a dotted version number; expected up to four numbers such as 2.23.116.23040`,
      { value: text },
    );
  }
  return text.split('.').map(Number);
}

export function compareAgentVersions(a: string, b: string): number {
  const left = parseAgentVersion(a);
  const right = parseAgentVersion(b);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

export function takesPartInRenewals(agentVersion: string): boolean {
  return compareAgentVersions(agentVersion, MINIMUM_RENEWAL_AGENT) >= 0;
}
