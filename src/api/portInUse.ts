/**
 * A port someone else already listens on: said with the port and the address, and what to do (pick
 * another with --port N or the PORT environment variable), instead of Node's bare EADDRINUSE.
 */
import { RekeyError, errorKind } from '../kernel/errors.js';

export const PORT_IN_USE = errorKind('PORT_IN_USE', 'validation');

/** The error to report for a failed listen: PORT_IN_USE for a busy port, else the error itself. */
export function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE') {
    return new RekeyError(
      PORT_IN_USE,
      `port ${port} on ${host} is already in use (another rekey serve, or another program); choose a free port with --port N or PORT=N (0 picks any free port)`,
      { port, host },
    );
  }
  if (code === 'EACCES') {
    return new RekeyError(PORT_IN_USE, `port ${port} on ${host} may not be opened by this user (ports below 1024 need privileges); choose another with --port N or PORT=N`, { port, host });
  }
  return error;
}
