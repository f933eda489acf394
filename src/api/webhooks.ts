/**
 * Webhook subscriptions: "When a row is added, modified or deleted" as an HTTP callback. Each
 * subscription follows the change feed with its own filters (table, change types, columns, OData
 * $filter) from the head of the log when it was made (or a given position), and POSTs one JSON
 * payload per matching change to its URL.
 *
 * Guarantees and limits:
 * - One change at a time per subscription, in log order: a change is delivered (or given up on)
 *   before the next one is tried.
 * - At least once while the server runs: a failed attempt (network error, timeout, 408, 429 or 5xx)
 *   is retried up to `maxAttempts` in all, with exponential backoff (baseDelayMs, doubling, at most
 *   maxDelayMs). Any other 4xx is final: the receiver refused the payload. Every attempt carries the
 *   same `X-Rekey-Delivery` id, so receivers can drop duplicates.
 * - Subscriptions and their delivery logs live in the server's memory: they end with the server. The
 *   last `logSize` deliveries of each are kept. At most `maxQueue` changes wait per subscription;
 *   beyond that the oldest waiting change is dropped and logged as dropped.
 */
import { randomUUID } from 'node:crypto';
import type { Subscription } from 'rxjs';
import { changeFeed, type FeedChange, type ReadModel } from '../../projections/index.js';
import { RekeyError } from '../kernel/errors.js';
import { SUBSCRIPTION_NOT_FOUND, invalid } from './errors.js';

export interface WebhookOptions {
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly timeoutMs?: number;
  readonly maxQueue?: number;
  readonly logSize?: number;
}

export interface SubscriptionRequest {
  readonly url: string;
  readonly table: string;
  readonly changeType?: string | readonly string[];
  readonly columns?: string | readonly string[];
  readonly filter?: string;
  readonly fromPosition?: number;
}

export interface SubscriptionInfo {
  readonly id: string;
  readonly url: string;
  readonly table: string;
  readonly changeType: string[] | null;
  readonly columns: string[] | null;
  readonly filter: string | null;
  readonly fromPosition: number;
  readonly createdAt: string;
  readonly delivered: number;
  readonly failed: number;
  readonly pending: number;
  /** Why the subscription stopped following the change feed, if it did (it then delivers nothing more). */
  readonly error: string | null;
}

export interface DeliveryAttempt {
  readonly attempt: number;
  readonly at: string;
  readonly status: number | null;
  readonly error: string | null;
  readonly durationMs: number;
}

export interface Delivery {
  readonly deliveryId: string;
  readonly position: number;
  readonly table: string;
  readonly changeType: string;
  readonly name: string;
  state: 'pending' | 'delivered' | 'failed' | 'dropped';
  readonly attempts: DeliveryAttempt[];
}

interface Entry {
  readonly info: Omit<SubscriptionInfo, 'delivered' | 'failed' | 'pending' | 'error'>;
  readonly queue: { change: FeedChange; delivery: Delivery }[];
  readonly log: Delivery[];
  delivered: number;
  failed: number;
  sequence: number;
  running: boolean;
  closed: boolean;
  error: string | null;
  subscription: Subscription | null;
  wake: (() => void) | null;
}

export interface WebhookHooks {
  onAttempt?(outcome: 'success' | 'failure'): void;
  onDelivery?(outcome: 'delivered' | 'failed' | 'dropped'): void;
}

/** `fetch failed (ECONNREFUSED)` rather than undici's bare `fetch failed`. */
function describeFailure(caught: unknown, timeoutMs: number): string {
  if (!(caught instanceof Error)) return String(caught);
  if (caught.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = (caught as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
  return detail ? `${caught.message} (${detail})` : caught.message;
}

const asList = (value: string | readonly string[] | undefined): string[] | undefined =>
  value === undefined ? undefined : (typeof value === 'string' ? value.split(',') : [...value]).map((item) => item.trim()).filter(Boolean);

export class WebhookManager {
  private readonly entries = new Map<string, Entry>();
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly maxQueue: number;
  private readonly logSize: number;

  constructor(private readonly readModel: ReadModel, options: WebhookOptions = {}, private readonly hooks: WebhookHooks = {}) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxQueue = options.maxQueue ?? 10_000;
    this.logSize = options.logSize ?? 1000;
  }

  async create(request: SubscriptionRequest): Promise<SubscriptionInfo> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      throw invalid('body.url is not an absolute URL', { field: 'url' });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`body.url must be an http or https URL, not ${url.protocol}`, { field: 'url' });
    if (url.username || url.password) throw invalid('body.url must not carry credentials', { field: 'url' });
    const changeType = asList(request.changeType);
    const columns = asList(request.columns);
    const fromPosition = request.fromPosition ?? (await this.readModel.store.headPosition()) + 1;
    // changeFeed validates the table, the change types, the columns and the filter before anything runs.
    const feed = changeFeed(this.readModel, { tables: request.table, changeTypes: changeType, columns, filter: request.filter, fromPosition });
    const id = randomUUID();
    const entry: Entry = {
      info: {
        id,
        url: url.toString(),
        table: request.table,
        changeType: changeType ?? null,
        columns: columns ?? null,
        filter: request.filter ?? null,
        fromPosition,
        createdAt: new Date().toISOString(),
      },
      queue: [],
      log: [],
      delivered: 0,
      failed: 0,
      sequence: 0,
      running: false,
      closed: false,
      error: null,
      subscription: null,
      wake: null,
    };
    this.entries.set(id, entry);
    entry.subscription = feed.subscribe({
      next: (change) => this.enqueue(entry, change),
      error: (error: unknown) => {
        entry.error = error instanceof Error ? error.message : String(error);
      },
    });
    return this.describe(entry);
  }

  list(): SubscriptionInfo[] {
    return [...this.entries.values()].map((entry) => this.describe(entry));
  }

  get(id: string): SubscriptionInfo {
    return this.describe(this.require(id));
  }

  deliveries(id: string): Delivery[] {
    return [...this.require(id).log];
  }

  remove(id: string): void {
    const entry = this.require(id);
    this.stop(entry);
    this.entries.delete(id);
  }

  close(): void {
    for (const entry of this.entries.values()) this.stop(entry);
    this.entries.clear();
  }

  private stop(entry: Entry): void {
    entry.closed = true;
    entry.subscription?.unsubscribe();
    entry.wake?.();
  }

  private require(id: string): Entry {
    const entry = this.entries.get(id);
    if (!entry) throw new RekeyError(SUBSCRIPTION_NOT_FOUND, `no webhook subscription has the id ${JSON.stringify(id.slice(0, 100))}`, { id: id.slice(0, 100) }, 'not_found');
    return entry;
  }

  private describe(entry: Entry): SubscriptionInfo {
    return { ...entry.info, delivered: entry.delivered, failed: entry.failed, pending: entry.queue.length, error: entry.error };
  }

  private record(entry: Entry, delivery: Delivery): void {
    entry.log.push(delivery);
    if (entry.log.length > this.logSize) entry.log.splice(0, entry.log.length - this.logSize);
  }

  private enqueue(entry: Entry, change: FeedChange): void {
    if (entry.closed) return;
    entry.sequence += 1;
    const delivery: Delivery = {
      deliveryId: `${entry.info.id}.${entry.sequence}`,
      position: change.position,
      table: change.table,
      changeType: change.changeType,
      name: change.name,
      state: 'pending',
      attempts: [],
    };
    this.record(entry, delivery);
    entry.queue.push({ change, delivery });
    if (entry.queue.length > this.maxQueue) {
      const dropped = entry.queue.shift()!;
      dropped.delivery.state = 'dropped';
      entry.failed += 1;
      this.hooks.onDelivery?.('dropped');
    }
    if (!entry.running) void this.drain(entry);
  }

  private async drain(entry: Entry): Promise<void> {
    entry.running = true;
    try {
      while (!entry.closed && entry.queue.length > 0) {
        const { change, delivery } = entry.queue[0]!;
        const delivered = await this.deliver(entry, change, delivery);
        entry.queue.shift();
        if (entry.closed) break;
        delivery.state = delivered ? 'delivered' : 'failed';
        if (delivered) entry.delivered += 1;
        else entry.failed += 1;
        this.hooks.onDelivery?.(delivery.state);
      }
    } finally {
      entry.running = false;
    }
  }

  /** Tries one change until it is accepted, refused for good, or the attempts run out. */
  private async deliver(entry: Entry, change: FeedChange, delivery: Delivery): Promise<boolean> {
    const body = JSON.stringify({
      subscriptionId: entry.info.id,
      deliveryId: delivery.deliveryId,
      change: {
        table: change.table,
        changeType: change.changeType,
        id: change.id,
        name: change.name,
        changedColumns: change.changedColumns,
        position: change.position,
        occurredAt: change.occurredAt,
        event: change.event,
        row: change.row,
      },
    });
    for (let attempt = 1; attempt <= this.maxAttempts && !entry.closed; attempt++) {
      const started = performance.now();
      const at = new Date().toISOString();
      let status: number | null = null;
      let error: string | null = null;
      try {
        const response = await fetch(entry.info.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'rekey-webhooks/1',
            'x-rekey-subscription': entry.info.id,
            'x-rekey-delivery': delivery.deliveryId,
            'x-rekey-attempt': String(attempt),
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        status = response.status;
        await response.arrayBuffer().catch(() => undefined); // drain the body so the connection is reused
      } catch (caught) {
        error = describeFailure(caught, this.timeoutMs);
      }
      delivery.attempts.push({ attempt, at, status, error, durationMs: Math.round(performance.now() - started) });
      const ok = status !== null && status >= 200 && status < 300;
      this.hooks.onAttempt?.(ok ? 'success' : 'failure');
      if (ok) return true;
      const retriable = status === null || status === 408 || status === 429 || status >= 500;
      if (!retriable || attempt === this.maxAttempts) return false;
      const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          entry.wake = null;
          resolve();
        }, delay);
        entry.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return false;
  }
}
