/**
 * Workers let at most six outgoing connections of an invocation wait for their response headers at once
 * and queue the others inside the runtime, where an attempt's timeout would already be running (and
 * its webhook-timestamp ageing) before its request has left. A run keeps its attempts to the same
 * number, so each one is signed and timed when it really starts.
 */
export const SIMULTANEOUS_CONNECTIONS = 6;

/**
 * The runtime counts a run's own D1, Queues and Durable Object calls among the six too: attempts take
 * five, so recording a group, sending its messages or asking its health object never waits behind
 * receivers that have not answered yet.
 */
export const ATTEMPT_CONNECTIONS = SIMULTANEOUS_CONNECTIONS - 1;

/** A waiting send; `resolve(false)`: it will not get a connection (its endpoint's first attempts were declined). */
type Waiter = { endpoint: string; retry: boolean; resolve: (granted: boolean) => void };

/**
 * A consumer run's connections for attempts, shared fairly by the endpoints of the run
 * (docs/architecture.md#fair-connections): an endpoint holds at most its share of them, the five
 * divided among the endpoints still attempting in the run, so a slow receiver's queue of attempts
 * never stands between another endpoint and a connection. A free connection goes to a waiting inline
 * retry first (a started delivery finishes in the run that holds it, and is never declined), then to
 * a first attempt, of the endpoint holding the fewest connections, the longest-waiting first. A
 * first attempt still waiting at `startBy` is declined (null): behind slow receivers the rest of a
 * large batch goes on to another run instead of stretching this one toward the platform's time limit.
 * So are an endpoint's first attempts once `declineFirsts` is called for it (its receiver was found
 * slow: they go to the slow lane, delivery/lanes.ts).
 */
export function connectionGate(startBy: number, endpoints: Iterable<string>, max = ATTEMPT_CONNECTIONS) {
  const attempting = new Set(endpoints);
  const declined = new Set<string>();
  const held = new Map<string, number>();
  const waiting: Waiter[] = [];
  let open = 0;

  const share = () => Math.ceil(max / Math.max(1, attempting.size));
  const holds = (endpoint: string) => held.get(endpoint) ?? 0;
  const mayOpen = (endpoint: string) => open < max && holds(endpoint) < share();

  /** Hands free connections to waiters, as long as some waiter may take one. */
  function serve(): void {
    for (;;) {
      let chosen = -1;
      for (const [i, w] of waiting.entries()) {
        if (!mayOpen(w.endpoint)) continue;
        const best = waiting[chosen];
        if (
          !best ||
          (w.retry && !best.retry) ||
          (w.retry === best.retry && holds(w.endpoint) < holds(best.endpoint))
        )
          chosen = i;
      }
      const [next] = chosen < 0 ? [] : waiting.splice(chosen, 1);
      if (!next) return;
      open++;
      held.set(next.endpoint, holds(next.endpoint) + 1);
      next.resolve(true);
    }
  }

  /** Resolves true once the send holds a connection, false if it never will. */
  function acquire(endpoint: string, retry: boolean): Promise<boolean> {
    attempting.add(endpoint);
    const turn = new Promise<boolean>((resolve) => waiting.push({ endpoint, retry, resolve }));
    serve();
    return turn;
  }

  function release(endpoint: string): void {
    open--;
    held.set(endpoint, holds(endpoint) - 1);
    serve();
  }

  async function use<T>(endpoint: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } finally {
      release(endpoint);
    }
  }

  return {
    /** The connections as one endpoint of the run uses them. */
    of(endpoint: string) {
      return {
        /** `send` once a connection is free for this endpoint, or null if none came free before `startBy`. */
        async first<T>(send: () => Promise<T>): Promise<T | null> {
          if (declined.has(endpoint) || !(await acquire(endpoint, false))) return null;
          if (Date.now() <= startBy) return use(endpoint, send);
          release(endpoint);
          return null;
        },
        /** `send` once a connection is free for this endpoint, ahead of every first attempt waiting. */
        async retry<T>(send: () => Promise<T>): Promise<T> {
          await acquire(endpoint, true);
          return use(endpoint, send);
        },
        /** No more first attempts for this endpoint in this run: those waiting, and later ones, get null. */
        declineFirsts(): void {
          declined.add(endpoint);
          for (let i = waiting.length - 1; i >= 0; i--) {
            const w = waiting[i];
            if (w && w.endpoint === endpoint && !w.retry) {
              waiting.splice(i, 1);
              w.resolve(false);
            }
          }
        },
      };
    },
    /** The endpoint will attempt nothing more in this run: its share goes to the others. */
    done(endpoint: string): void {
      attempting.delete(endpoint);
      serve();
    },
  };
}

export type ConnectionGate = ReturnType<typeof connectionGate>;
/** One endpoint's use of a run's connections. */
export type EndpointConnections = ReturnType<ConnectionGate["of"]>;
