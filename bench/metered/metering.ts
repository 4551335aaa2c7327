/**
 * Counting of billable operations, for the benchmark's cost per million deliveries (scripts/bench.mjs).
 * Only the bench's wrapper Worker (bench/metered/index.ts) uses it; the shipped Worker counts nothing.
 * Each invocation runs on an `Env` whose D1 databases, queues and Durable Object namespace count what
 * they are asked to do, and ends with one `{"message":"operations",…}` log line. D1 rows come from
 * the query results' own `meta`.
 */
export type OperationCounts = {
  /** D1 statements run: one per run(), all() or first(), and one per statement of a batch(). */
  d1Queries: number;
  /** Those of them that wrote rows (meta.rows_written > 0); a write that matched nothing counts as a read. */
  d1WriteQueries: number;
  d1RowsRead: number;
  d1RowsWritten: number;
  /** Billed per 64,000 bytes of each message written; reading and deleting it cost as much again. */
  queueWriteOperations: number;
  durableObjectCalls: number;
  /** Distinct objects called: "one call per endpoint per batch" is calls ≤ objects. */
  durableObjects: number;
};

export const noOperations = (): OperationCounts => ({
  d1Queries: 0,
  d1WriteQueries: 0,
  d1RowsRead: 0,
  d1RowsWritten: 0,
  queueWriteOperations: 0,
  durableObjectCalls: 0,
  durableObjects: 0,
});

/** Runs `work` with a metered copy of `env` and logs what it cost, tagged with `describe()`. */
export async function withMetering<T>(
  env: Env,
  describe: () => Record<string, unknown>,
  work: (env: Env) => Promise<T>,
): Promise<T> {
  const counts = noOperations();
  try {
    return await work(meteredEnv(env, counts));
  } finally {
    console.log(JSON.stringify({ message: "operations", ...describe(), ...counts }));
  }
}

/**
 * A copy of `env` whose D1 databases, queues and Durable Object namespace add what they are asked to
 * do to `counts`. Every D1 binding whose name starts with `DB` is metered, found by name rather than
 * listed: the primary `DB` and any database beside it (`DB_SHARD_0`, `DB_SHARD_1`, …) as wrangler.toml
 * declares them.
 */
export function meteredEnv(env: Env, counts: OperationCounts): Env {
  const databases = d1Bindings(env).map(([name, db]) => [name, meteredDatabase(db, counts)]);
  return {
    ...env,
    ...Object.fromEntries(databases),
    EVENTS_QUEUE: meteredQueue(env.EVENTS_QUEUE, counts),
    DELIVERIES_QUEUE: meteredQueue(env.DELIVERIES_QUEUE, counts),
    ENDPOINT_HEALTH: meteredNamespace(env.ENDPOINT_HEALTH, counts),
  };
}

/** The D1 bindings of `env` whose name starts with `DB`, by name. */
export function d1Bindings(env: Env): [string, D1Database][] {
  return Object.entries(env).filter((entry): entry is [string, D1Database] => {
    const [name, value] = entry;
    return name.startsWith("DB") && isD1Database(value);
  });
}

function isD1Database(value: unknown): value is D1Database {
  const candidate = value as Partial<D1Database> | null;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    typeof candidate.prepare === "function" &&
    typeof candidate.batch === "function"
  );
}

function meteredDatabase(db: D1Database, counts: OperationCounts): D1Database {
  // D1's batch() only takes the statements it made, so each metered statement remembers its original.
  const originals = new WeakMap<D1PreparedStatement, D1PreparedStatement>();
  const add = (meta: D1Meta) => {
    counts.d1Queries++;
    if (meta.rows_written > 0) counts.d1WriteQueries++;
    counts.d1RowsRead += meta.rows_read;
    counts.d1RowsWritten += meta.rows_written;
  };
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
    const meteredStatement = {
      bind: (...values: unknown[]) => wrap(statement.bind(...values)),
      async run() {
        const result = await statement.run();
        add(result.meta);
        return result;
      },
      async all() {
        const result = await statement.all();
        add(result.meta);
        return result;
      },
      // first() returns no meta; all() of the same statement does, and its first row is the answer.
      async first(column?: string) {
        const result = await statement.all<Record<string, unknown>>();
        add(result.meta);
        const row = result.results[0] ?? null;
        return column === undefined || row === null ? row : (row[column] ?? null);
      },
      raw: statement.raw.bind(statement),
    } as unknown as D1PreparedStatement;
    originals.set(meteredStatement, statement);
    return meteredStatement;
  };
  const batchOn =
    (target: Pick<D1Database, "batch">) =>
    async (statements: D1PreparedStatement[]): Promise<D1Result[]> => {
      const results = await target.batch(statements.map((s) => originals.get(s) ?? s));
      for (const result of results) add(result.meta);
      return results;
    };
  return {
    prepare: (query: string) => wrap(db.prepare(query)),
    batch: batchOn(db),
    exec: db.exec.bind(db),
    // Reads through a session (read replication) are statements of the same database: counted alike.
    withSession(constraintOrBookmark?: D1SessionBookmark | D1SessionConstraint) {
      const session = db.withSession(constraintOrBookmark);
      return {
        prepare: (query: string) => wrap(session.prepare(query)),
        batch: batchOn(session),
        getBookmark: session.getBookmark.bind(session),
      } as D1DatabaseSession;
    },
    dump: db.dump.bind(db),
  } as D1Database;
}

// Cloudflare counts "an operation for each 64 KB of data that is written, read, or deleted", where "a KB
// is defined as 1,000 bytes, and each message includes approximately 100 bytes of internal metadata"
// (https://developers.cloudflare.com/queues/platform/pricing/): a body of up to 63,900 bytes is one
// operation, a byte more is two.
const QUEUE_OPERATION_BYTES = 64_000;
const QUEUE_MESSAGE_METADATA_BYTES = 100;
const encoder = new TextEncoder();

/**
 * A body's size as sent: text (how the service sends its bodies, src/delivery/messages.ts) and bytes as
 * they are, anything else as its JSON, close to the runtime's own serialization.
 */
function bodyBytes(body: unknown): number {
  if (typeof body === "string") return encoder.encode(body).length;
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return body.byteLength;
  return encoder.encode(JSON.stringify(body)).length;
}

function meteredQueue(queue: Queue, counts: OperationCounts): Queue {
  const count = (body: unknown) => {
    const bytes = bodyBytes(body) + QUEUE_MESSAGE_METADATA_BYTES;
    counts.queueWriteOperations += Math.ceil(bytes / QUEUE_OPERATION_BYTES);
  };
  return {
    send(body, options) {
      count(body);
      return queue.send(body, options);
    },
    sendBatch(messages, options) {
      for (const message of messages) count(message.body);
      return queue.sendBatch(messages, options);
    },
  } as Queue;
}

/** Every RPC method call on a stub is one billed Durable Object request. */
function meteredNamespace<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  counts: OperationCounts,
): DurableObjectNamespace<T> {
  const called = new Set<string>();
  return new Proxy(namespace, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (property !== "get") return typeof value === "function" ? value.bind(target) : value;
      return (id: DurableObjectId, ...rest: unknown[]) =>
        new Proxy(Reflect.apply(target.get, target, [id, ...rest]), {
          get(stub, method) {
            const member = Reflect.get(stub, method, stub);
            if (typeof member !== "function") return member;
            return (...callArgs: unknown[]) => {
              counts.durableObjectCalls++;
              called.add(id.toString());
              counts.durableObjects = called.size;
              // Reflect.apply: on an RPC stub, `member.apply` would itself be taken for a remote method.
              return Reflect.apply(member, stub, callArgs);
            };
          },
        });
    },
  });
}
