/**
 * Workers open at most six outgoing connections at once per invocation and queue the others inside
 * the runtime, where an attempt's timeout would already be running (and its webhook-timestamp ageing)
 * before its request has left. A run keeps its attempts to the same number, so each one is signed and
 * timed when it really starts.
 */
export const SIMULTANEOUS_CONNECTIONS = 6;

/**
 * A consumer run's outgoing connections. A delivery's first attempt in the run waits for a free one
 * until `startBy` and is then declined (null): behind a slow receiver the rest of a large batch goes on
 * to another run instead of stretching this one toward the platform's time limit. An inline retry of a
 * delivery already started goes before any first attempt and is never declined, so a started delivery
 * finishes in the run that holds it.
 */
export function connectionGate(startBy: number, max = SIMULTANEOUS_CONNECTIONS) {
  let open = 0;
  const retries: (() => void)[] = [];
  const firsts: (() => void)[] = [];

  async function acquire(queue: (() => void)[]): Promise<void> {
    if (open < max && retries.length === 0 && firsts.length === 0) {
      open++;
      return;
    }
    // The releasing call hands its connection over: `open` stays as it is.
    await new Promise<void>((resolve) => queue.push(resolve));
  }

  function release(): void {
    const next = retries.shift() ?? firsts.shift();
    if (next) next();
    else open--;
  }

  async function use<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } finally {
      release();
    }
  }

  return {
    /** `send` once a connection is free, or null if none came free before `startBy`. */
    async first<T>(send: () => Promise<T>): Promise<T | null> {
      await acquire(firsts);
      if (Date.now() <= startBy) return use(send);
      release();
      return null;
    },
    /** `send` once a connection is free, ahead of every first attempt waiting. */
    async retry<T>(send: () => Promise<T>): Promise<T> {
      await acquire(retries);
      return use(send);
    },
  };
}

export type ConnectionGate = ReturnType<typeof connectionGate>;
