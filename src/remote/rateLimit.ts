/**
 * Token buckets by key (a source address, a machine's key, or one key for everybody): each key may
 * send `burst` requests at once and `perSecond` after that. The machine API uses them so that
 * clients it does not know cannot crowd out the machines it does (see machineApi.ts).
 */

export interface RateLimit {
  /** Requests per second a key may make in the long run. */
  readonly perSecond: number;
  /** Requests a key may make at once after being quiet. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** How many keys are remembered before the full (idle) ones are forgotten. */
const MAX_KEYS = 50_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(readonly limit: RateLimit, private readonly now: () => number) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) {
      throw new RangeError(`a rate limit needs perSecond > 0 and burst >= 1, got ${limit.perSecond} per second, burst ${limit.burst}`);
    }
  }

  /** Takes a token for `key`: 0 when there was one, else the ms until there will be one (nothing taken). */
  take(key: string): number {
    const bucket = this.refilled(key);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    // (less a hair, so that floating-point dust does not add a millisecond)
    return Math.ceil(((1 - bucket.tokens) * 1000) / this.limit.perSecond - 1e-9);
  }

  /** Takes a token if there is one, and never refuses: for requests already answered (failures). */
  charge(key: string): void {
    const bucket = this.refilled(key);
    bucket.tokens = Math.max(bucket.tokens - 1, -this.limit.burst);
  }

  private refilled(key: string): Bucket {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_KEYS) this.forgetIdle(now);
      bucket = { tokens: this.limit.burst, at: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + (elapsed * this.limit.perSecond) / 1000);
    bucket.at = now;
    return bucket;
  }

  /** Drops the buckets that have refilled (a new one starts full anyway); then the oldest half. */
  private forgetIdle(now: number): void {
    const refillMs = (this.limit.burst * 1000) / this.limit.perSecond;
    for (const [key, bucket] of this.buckets) if (now - bucket.at >= refillMs) this.buckets.delete(key);
    if (this.buckets.size < MAX_KEYS) return;
    let drop = this.buckets.size / 2;
    for (const key of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(key);
    }
  }
}

/** A refusal for volume: HTTP 429 with the seconds to wait in `Retry-After`. */
export class RateLimitedError extends Error {
  readonly status = 429;
  readonly code = 'RATE_LIMITED';
  constructor(readonly retryAfterSeconds: number, message: string) {
    super(`${message}; retry after ${retryAfterSeconds} s`);
    this.name = 'RateLimitedError';
  }
}

export interface AdmissionLimits {
  /** Clients without a registered key, per source address (IPv6: per /64). */
  readonly unknownPerAddress: RateLimit;
  /** Clients without a registered key, all of them together. */
  readonly unknownOverall: RateLimit;
  /** Each registered machine, by its request-signing key. */
  readonly perMachine: RateLimit;
}

export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = {
  unknownPerAddress: { perSecond: 5, burst: 20 },
  unknownOverall: { perSecond: 50, burst: 200 },
  perMachine: { perSecond: 50, burst: 200 },
};

/**
 * Who may be heard, and how often. Unknown clients take a token from their address's bucket and
 * from the shared one before their signature is even checked; failures (bad signatures, replays)
 * are charged to the same buckets. Registered machines draw only on a bucket of their own, taken
 * after their signature verified, so nobody else can spend it.
 */
export class Admission {
  private readonly byAddress: RateLimiter;
  private readonly overall: RateLimiter;
  private readonly byMachine: RateLimiter;

  constructor(readonly limits: AdmissionLimits, now: () => number) {
    this.byAddress = new RateLimiter(limits.unknownPerAddress, now);
    this.overall = new RateLimiter(limits.unknownOverall, now);
    this.byMachine = new RateLimiter(limits.perMachine, now);
  }

  admitUnknown(request: { readonly ip?: string }): void {
    const address = addressKey(request.ip);
    const own = this.byAddress.take(address);
    if (own > 0) {
      const { perSecond, burst } = this.limits.unknownPerAddress;
      throw new RateLimitedError(seconds(own), `too many requests without a registered request-signing key from ${address}: at most ${burst} at once and ${perSecond} per second per address`);
    }
    const shared = this.overall.take('all');
    if (shared > 0) {
      const { perSecond, burst } = this.limits.unknownOverall;
      throw new RateLimitedError(seconds(shared), `too many requests without a registered request-signing key: at most ${burst} at once and ${perSecond} per second from all such clients together (registered machines are not limited by this)`);
    }
  }

  /** A request that failed (bad signature, replay): counted against its address and the shared budget. */
  charge(request: { readonly ip?: string }): void {
    this.byAddress.charge(addressKey(request.ip));
    this.overall.charge('all');
  }

  admitMachine(keyThumbprint: string, machine: string): void {
    const wait = this.byMachine.take(keyThumbprint);
    if (wait > 0) {
      const { perSecond, burst } = this.limits.perMachine;
      throw new RateLimitedError(seconds(wait), `machine ${machine} sent more than ${burst} requests at once or ${perSecond} per second`);
    }
  }
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** The key of a source address: IPv4 as it is, IPv6 by its /64 (one host usually holds a whole /64). */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (!v4.includes(':')) return v4;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
