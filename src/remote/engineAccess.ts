/**
 * How the machine API reaches the engine. The engine keeps one working memory of the log and is
 * not re-entrant: two commands interleaving at their awaits could apply the same events twice. So
 * every piece of work the API does runs alone, in arrival order, through `exclusive`.
 *
 * `rekey serve` shares its own queue with this plugin (its `ctx.serialize`), so that admin commands
 * and machine requests wait behind the same lock:
 *
 *   extend: (app, ctx) => app.register(machineApi(engineAccess(ctx.engine, { clock: serviceClock, serialize: ctx.serialize })))
 */
import type { Engine } from '../engine/engine.js';
import type { ServiceClock } from './clock.js';

export interface EngineAccess {
  readonly engine: Engine;
  /**
   * The service's clock as machines see it: the engine's "now" (what commands are stamped with),
   * the speed of the clock underneath, and its holds when it is a test clock.
   */
  readonly clock: ServiceClock;
  /** Runs `work` when every earlier piece of work has finished, and nothing else meanwhile. */
  exclusive<T>(work: (engine: Engine) => Promise<T>): Promise<T>;
}

export interface EngineAccessOptions {
  /**
   * The clock the engine's clock is built on (`serviceClockFromOptions`): its speed and holds. The
   * engine's own clock stays the source of "now" (it may, like `rekey serve`'s, never run behind
   * the log). Default: the engine's clock, at real speed, without holds.
   */
  readonly clock?: ServiceClock;
  /** An existing queue to share (e.g. `rekey serve`'s `ctx.serialize`); default: a queue of its own. */
  readonly serialize?: <T>(task: () => Promise<T>) => Promise<T>;
}

export function engineAccess(engine: Engine, options: EngineAccessOptions = {}): EngineAccess {
  let tail: Promise<unknown> = Promise.resolve();
  const ownQueue = <T>(task: () => Promise<T>): Promise<T> => {
    const result = tail.then(task);
    tail = result.catch(() => undefined);
    return result;
  };
  const serialize = options.serialize ?? ownQueue;
  const base = options.clock;
  const clock: ServiceClock = {
    now: () => engine.clock.now(),
    speed: base?.speed ?? 1,
    test: base?.test ?? false,
    ...(base?.hold ? { hold: (leaseMs: number) => base.hold!(leaseMs) } : {}),
    get held() {
      return base?.held ?? false;
    },
  };
  return {
    engine,
    clock,
    exclusive: <T>(work: (engine: Engine) => Promise<T>): Promise<T> => serialize(() => work(engine)),
  };
}
