/**
 * Codes of runs that could not happen (ConnectionRunFailed), in Power Automate's own vocabulary
 * where it has a word for the failure. A connection left unused through its target's certificate
 * renewal holds no ciphertext for a live key (R15); Power Automate then fails its runs with
 * `ExpiredDesktopFlowConnection`, "The connection is no longer valid and needs to be updated.",
 * and the portal shows the connection as "Fix connection"
 * (https://learn.microsoft.com/en-us/troubleshoot/power-platform/power-automate/desktop-flows/troubleshoot-expired-desktop-flow-connection).
 */

/** A run of a connection in "Fix connection": no ciphertext for a live key of its target. */
export const EXPIRED_DESKTOP_FLOW_CONNECTION = 'ExpiredDesktopFlowConnection';
/** The same failure as logs written before rekey adopted Microsoft's name record it. */
export const LEGACY_NEEDS_FIX_CODE = 'CONNECTION_NEEDS_FIX';
/** Microsoft's message for ExpiredDesktopFlowConnection, word for word. */
export const EXPIRED_CONNECTION_MESSAGE = 'The connection is no longer valid and needs to be updated.';
/** No online machine of the target can run it (rekey's own code: Power Automate queues such runs). */
export const NO_MACHINE_CAN_RUN_CODE = 'NO_MACHINE_CAN_RUN';

export interface RunFailure {
  readonly code: string;
  readonly reason: string;
}

/** The failure recorded for a run of a connection that needs fixing (R15, R16, R19, R20). */
export function expiredConnection(connection: string): RunFailure {
  return {
    code: EXPIRED_DESKTOP_FLOW_CONNECTION,
    reason: `${EXPIRED_CONNECTION_MESSAGE} Desktop flow connection ${connection} is in "Fix connection" (no ciphertext for a live key of its target): re-enter its credentials`,
  };
}

/** True for ExpiredDesktopFlowConnection and for its earlier name in older logs. */
export function isExpiredConnectionCode(code: string): boolean {
  return code === EXPIRED_DESKTOP_FLOW_CONNECTION || code === LEGACY_NEEDS_FIX_CODE;
}
