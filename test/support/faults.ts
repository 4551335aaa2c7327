import { createMessageBatch } from "cloudflare:test";

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

/**
 * A queue that keeps what it is sent, so a test can hand the messages to the consumer itself. Bodies
 * are sent as JSON text (delivery/messages.ts); `sent` holds them decoded, for the test to read.
 */
export function capturingQueue<T>(): { queue: Queue; sent: T[] } {
  const sent: T[] = [];
  const decode = (body: unknown) => (typeof body === "string" ? JSON.parse(body) : body) as T;
  const queue = {
    async send(body: unknown) {
      sent.push(decode(body));
    },
    async sendBatch(messages: { body: unknown }[]) {
      sent.push(...messages.map((m) => decode(m.body)));
    },
  } as unknown as Queue;
  return { queue, sent };
}

/**
 * A batch as Queues would hand it to the consumer of `queue`, every message on its first delivery,
 * its body the JSON text the service sends (`asText: false`: as an earlier version sent them).
 */
export function batchOf<T>(
  queue: string,
  bodies: readonly T[],
  { attempts = 1, asText = true }: { attempts?: number; asText?: boolean } = {},
): MessageBatch {
  return createMessageBatch<unknown>(
    queue,
    bodies.map((body, i) => ({
      id: `${queue}-${i}-${Math.random()}`,
      timestamp: new Date(),
      attempts,
      body: asText ? JSON.stringify(body) : body,
    })),
  );
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

/**
 * The database, except that statements for which `fails(sql, params)` holds reject when run (as a
 * row D1 cannot return, or a failure that only one tenant's data meets, would), alone or in a batch.
 */
export function databaseFailingWhen(
  db: D1Database,
  fails: (sql: string, params: unknown[]) => boolean,
): D1Database {
  const reject = () => Promise.reject(new Error("injected: D1 statement failed"));
  return new Proxy(db, {
    get(target, property) {
      if (property === "prepare") {
        return (sql: string) => {
          const statement = target.prepare(sql);
          return new Proxy(statement, {
            get(inner, name) {
              if (name !== "bind") return Reflect.get(inner, name, inner).bind(inner);
              return (...params: unknown[]) =>
                fails(sql, params)
                  ? { all: reject, first: reject, run: reject, raw: reject }
                  : inner.bind(...params);
            },
          });
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Makes D1 refuse to record delivery `deliveryId` as anything but failed (a trigger aborts the
 * insert, or with `change: "UPDATE"` an update of a pending row's status; leases still work), as a database that keeps
 * failing on one row would. Every run of its consumer then fails after the attempt; marking it failed
 * still works. Returns the way to lift it.
 */
export async function refuseDeliveryRow(
  db: D1Database,
  table: string,
  deliveryId: string,
  change: "INSERT" | "UPDATE" = "INSERT",
): Promise<() => Promise<void>> {
  if (!/^\w+$/.test(deliveryId) || !/^\w+$/.test(table)) throw new Error(`not a delivery id: ${deliveryId}`);
  const trigger = `refuse_${change.toLowerCase()}_${deliveryId}`;
  await db
    .prepare(
      `CREATE TRIGGER ${trigger} BEFORE ${change} ON ${table}
       WHEN NEW.id = '${deliveryId}' AND NEW.status <> 'failed'${change === "UPDATE" ? " AND NEW.status <> OLD.status" : ""}
       BEGIN SELECT RAISE(ABORT, 'injected: D1 refuses this row'); END`,
    )
    .run();
  return async () => {
    await db.prepare(`DROP TRIGGER ${trigger}`).run();
  };
}
