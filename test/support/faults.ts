import type { DeliveryMessage } from "../../src/delivery/messages";

/**
 * Fault injection at the binding level: the real Worker code runs against real local D1 and Queues,
 * with one binding swapped for one that fails (or records instead of sending), as a broken network
 * path to the queue or a crash inside a D1 call would.
 */
export function failingQueue(): Queue {
  const fail = async () => {
    throw new Error("injected: queue unavailable");
  };
  return { send: fail, sendBatch: fail, metrics: fail } as unknown as Queue;
}

/** A deliveries queue that keeps what it is sent, so a test can hand the messages to the consumer itself. */
export function capturingQueue(): { queue: Queue; sent: DeliveryMessage[] } {
  const sent: DeliveryMessage[] = [];
  const queue = {
    async send(body: DeliveryMessage) {
      sent.push(body);
    },
    async sendBatch(messages: { body: DeliveryMessage }[]) {
      sent.push(...messages.map((m) => m.body));
    },
  } as unknown as Queue;
  return { queue, sent };
}

/** The database, except that its `failOn`-th `batch()` call throws (a crash mid-batch). */
export function databaseFailingOnBatch(db: D1Database, failOn: number): D1Database {
  let calls = 0;
  return new Proxy(db, {
    get(target, property) {
      if (property === "batch") {
        return (statements: D1PreparedStatement[]) => {
          calls++;
          if (calls === failOn) return Promise.reject(new Error("injected: D1 batch failed"));
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
