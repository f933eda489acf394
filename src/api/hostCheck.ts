/**
 * The Host check against DNS rebinding. A web page on another site can make the browser resolve its
 * own name (`127.attacker.example`) to 127.0.0.1 and then read a loopback server as if it were that
 * site; the browser still sends the page's name as Host. So a server bound to loopback answers only
 * requests addressed by an exact name it knows: `localhost`, `127.0.0.1`, `[::1]`, the address it is
 * bound to, and the names given with `--allow-host`. A server bound beyond loopback checks Host only
 * when names are given (it has tokens to protect it).
 */

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** Whether a listen address is a loopback one (then the Host check is on). */
export function isLoopbackAddress(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** The host name of a Host header (`name:port`, `[v6]:port`), lower case; '' when it has another shape. */
export function hostnameOf(header: string): string {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::\d{1,5})?$/.exec(header);
  return match ? match[1]!.toLowerCase() : '';
}

export interface HostCheck {
  /** The names accepted, for error messages. */
  readonly names: readonly string[];
  accepts(hostHeader: string | undefined): boolean;
}

/** The check for a server bound to `host`, or null when none applies. */
export function hostCheck(host: string, allowedHosts: readonly string[] = []): HostCheck | null {
  if (!isLoopbackAddress(host) && allowedHosts.length === 0) return null;
  const bound = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const unspecified = bound === '0.0.0.0' || bound === '[::]';
  const names = [...new Set([...(isLoopbackAddress(host) ? LOOPBACK_NAMES : []), ...(unspecified ? [] : [bound.toLowerCase()]), ...allowedHosts.map((name) => name.toLowerCase())])];
  const set = new Set(names);
  return {
    names,
    accepts: (header) => header !== undefined && set.has(hostnameOf(header)),
  };
}
