import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Counting of billable operations, for the benchmark's cost per million deliveries (scripts/bench.mjs).
 * Only the bench's wrapper Worker (bench/metered/index.ts) uses it; the shipped Worker counts nothing.
 * Each invocation runs on an `Env` whose bindings count what they are asked to do, and ends with one
 * `{"message":"operations",…}` log line. Everything is counted as it happens, nothing from a ratio:
 * D1 rows from the query results' own `meta`; queue operations from the bytes of each message sent,
 * received and acknowledged; Analytics Engine points as they are written; Durable Object calls on the
 * stubs; and, inside the Durable Object (meteredDurableObject), the rows its storage writes.
 */
export type OperationCounts = {
  /** D1 statements run: one per run(), all() or first(), and one per statement of a batch(). */
  d1Queries: number;
  /** Those of them that wrote rows (meta.rows_written > 0); a write that matched nothing counts as a read. */
  d1WriteQueries: number;
  d1RowsRead: number;
  d1RowsWritten: number;
  /** Operations of the messages sent: one per 64,000 bytes of each, about 100 of them metadata. */
  queueWriteOperations: number;
  /** Of the messages a consumer invocation received, each time it received one (a retry reads it again). */
  queueReadOperations: number;
  /** Of the messages it acknowledged, explicitly or by returning without retrying them. */
  queueDeleteOperations: number;
  analyticsEngineDataPoints: number;
  durableObjectCalls: number;
  /** Distinct objects called. */
  durableObjects: number;
  /**
   * Calls by object, named as the caller named it (`idFromName`, else its id): "one call per endpoint
   * per batch" is every value at most 1. Only objects called at all are listed.
   */
  durableObjectCallsByName: Record<string, number>;
  /**
   * Rows a Durable Object's storage wrote, counted inside the object (meteredDurableObject) as Durable
   * Objects bill them: each key put or deleted, each setAlarm(), each SQL statement's `rowsWritten`.
   */
  durableObjectRowsWritten: number;
};

export const noOperations = (): OperationCounts => ({
  d1Queries: 0,
  d1WriteQueries: 0,
  d1RowsRead: 0,
  d1RowsWritten: 0,
  queueWriteOperations: 0,
  queueReadOperations: 0,
  queueDeleteOperations: 0,
  analyticsEngineDataPoints: 0,
  durableObjectCalls: 0,
  durableObjects: 0,
  durableObjectCallsByName: {},
  durableObjectRowsWritten: 0,
});

/**
 * Runs `work` with a metered copy of `env` and logs what it cost, tagged with `describe()`. With `ctx`,
 * what `work` leaves to `ctx.waitUntil` is the invocation's too (a publish's direct delivery,
 * src/delivery/direct.ts): the line is logged once that has settled as well.
 */
export async function withMetering<T>(
  env: Env,
  describe: () => Record<string, unknown>,
  work: (env: Env, ctx: ExecutionContext) => Promise<T>,
  ctx?: ExecutionContext,
): Promise<T> {
  const counts = noOperations();
  const background: Promise<unknown>[] = [];
  const waitUntil = (promise: Promise<unknown>) => {
    background.push(promise);
    ctx?.waitUntil(promise);
  };
  const meteredCtx = new Proxy(ctx ?? ({} as ExecutionContext), {
    get(target, property) {
      if (property === "waitUntil") return waitUntil;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  try {
    return await work(meteredEnv(env, counts), meteredCtx);
  } finally {
    const logged = settleAll(background).then(() => logOperations(describe(), counts));
    if (ctx) ctx.waitUntil(logged);
    else await logged;
  }
}

/** Waits for `promises`, and for those added to it meanwhile (waitUntil called from waitUntil work). */
async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  for (let settled = 0; settled < promises.length; ) {
    const pending = promises.slice(settled);
    settled = promises.length;
    await Promise.allSettled(pending);
  }
}

/** The one `operations` line of an invocation (or of a Durable Object call). */
export function logOperations(tags: Record<string, unknown>, counts: OperationCounts): void {
  console.log(JSON.stringify({ message: "operations", ...tags, ...counts }));
}

/**
 * A queue consumer's invocation, metered: `work` gets a metered `env` and a copy of `batch` whose
 * messages remember whether they were acknowledged or retried. Each message received is read
 * operations (its bytes, as for a write); each one acknowledged, explicitly or implicitly (the handler
 * returned without retrying it), is as many delete operations. A message retried, or left undecided by
 * a handler that threw, is not deleted: it comes back and is read again.
 */
export async function withMeteredBatch(
  env: Env,
  batch: MessageBatch,
  describe: () => Record<string, unknown>,
  work: (env: Env, batch: MessageBatch) => Promise<void>,
): Promise<void> {
  const counts = noOperations();
  const decided = new Map<Message, "ack" | "retry">();
  // The first word on a message stands.
  const decide = (message: Message, verdict: "ack" | "retry") => {
    if (!decided.has(message)) decided.set(message, verdict);
  };
  const messages = batch.messages.map((message): Message => {
    counts.queueReadOperations += queueOperations(message.body);
    return {
      id: message.id,
      timestamp: message.timestamp,
      body: message.body,
      attempts: message.attempts,
      ack() {
        decide(message, "ack");
        message.ack();
      },
      retry(options?: QueueRetryOptions) {
        decide(message, "retry");
        message.retry(options);
      },
    };
  });
  const metered: MessageBatch = {
    messages,
    queue: batch.queue,
    metadata: batch.metadata,
    ackAll() {
      for (const message of batch.messages) decide(message, "ack");
      batch.ackAll();
    },
    retryAll(options?: QueueRetryOptions) {
      for (const message of batch.messages) decide(message, "retry");
      batch.retryAll(options);
    },
  };
  let completed = false;
  try {
    await work(meteredEnv(env, counts), metered);
    completed = true;
  } finally {
    for (const message of batch.messages) {
      const verdict = decided.get(message) ?? (completed ? "ack" : "retry");
      if (verdict === "ack") counts.queueDeleteOperations += queueOperations(message.body);
    }
    logOperations(describe(), counts);
  }
}

/**
 * A copy of `env` whose bindings add what they are asked to do to `counts`, found by what they are
 * rather than listed, so a binding added to wrangler.toml is counted without a change here: every D1
 * database whose name starts with `DB` (the primary `DB` and the shards `DB_SHARD_0`, …), every queue
 * producer, every Durable Object namespace and every Analytics Engine dataset.
 */
export function meteredEnv(env: Env, counts: OperationCounts): Env {
  const entries = Object.entries(env).map(([name, value]): [string, unknown] => {
    if (name.startsWith("DB") && isD1Database(value)) return [name, meteredDatabase(value, counts)];
    if (hasMethods(value, ["send", "sendBatch"])) return [name, meteredQueue(value as Queue, counts)];
    if (hasMethods(value, ["idFromName", "idFromString", "get"])) {
      return [name, meteredNamespace(value as DurableObjectNamespace, counts)];
    }
    if (hasMethods(value, ["writeDataPoint"])) {
      return [name, meteredAnalytics(value as AnalyticsEngineDataset, counts)];
    }
    return [name, value];
  });
  return Object.fromEntries(entries) as unknown as Env;
}

/**
 * Whether `value` has these methods and is not an RPC stub (a service binding), on which every
 * property is a method: a name no binding has must not be one.
 */
function hasMethods(value: unknown, methods: string[]): boolean {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  if (typeof record.surelyNoBindingHasThisMethod === "function") return false;
  return methods.every((method) => typeof record[method] === "function");
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

/** Queue operations of one message, written, read or deleted: one per 64,000 bytes of body and metadata. */
function queueOperations(body: unknown): number {
  return Math.ceil((bodyBytes(body) + QUEUE_MESSAGE_METADATA_BYTES) / QUEUE_OPERATION_BYTES);
}

function meteredQueue(queue: Queue, counts: OperationCounts): Queue {
  return {
    send(body, options) {
      counts.queueWriteOperations += queueOperations(body);
      return queue.send(body, options);
    },
    sendBatch(messages, options) {
      for (const message of messages) counts.queueWriteOperations += queueOperations(message.body);
      return queue.sendBatch(messages, options);
    },
  } as Queue;
}

function meteredAnalytics(dataset: AnalyticsEngineDataset, counts: OperationCounts): AnalyticsEngineDataset {
  return {
    writeDataPoint(point) {
      counts.analyticsEngineDataPoints++;
      dataset.writeDataPoint(point);
    },
  };
}

/** Every RPC method call on a stub is one billed Durable Object request. */
function meteredNamespace<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  counts: OperationCounts,
): DurableObjectNamespace<T> {
  const names = new Map<string, string>();
  const meteredStub = (stub: DurableObjectStub<T>, name: string) =>
    new Proxy(stub, {
      get(target, method) {
        const member = Reflect.get(target, method, target);
        if (typeof member !== "function") return member;
        return (...callArgs: unknown[]) => {
          counts.durableObjectCalls++;
          counts.durableObjectCallsByName[name] = (counts.durableObjectCallsByName[name] ?? 0) + 1;
          counts.durableObjects = Object.keys(counts.durableObjectCallsByName).length;
          // Reflect.apply: on an RPC stub, `member.apply` would itself be taken for a remote method.
          return Reflect.apply(member, target, callArgs);
        };
      },
    });
  return new Proxy(namespace, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (property === "idFromName") {
        return (name: string) => {
          const id = target.idFromName(name);
          names.set(id.toString(), name);
          return id;
        };
      }
      if (property === "get") {
        return (id: DurableObjectId, ...rest: unknown[]) =>
          meteredStub(
            Reflect.apply(target.get, target, [id, ...rest]),
            names.get(id.toString()) ?? id.toString(),
          );
      }
      if (property === "getByName" && typeof value === "function") {
        return (name: string, ...rest: unknown[]) =>
          meteredStub(Reflect.apply(value, target, [name, ...rest]), name);
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const METER = Symbol("operations");

/** Set while a metered Durable Object call runs, so its calls to the object's own methods are not lines of their own. */
const insideCall = new AsyncLocalStorage<true>();

/** A Durable Object class, as the runtime constructs it. */
// biome-ignore lint/suspicious/noExplicitAny: a mixin's base constructor must take any arguments.
type DurableObjectClass = new (...args: any[]) => object;

/**
 * A subclass of a Durable Object class whose instances count what they do: their `env` is metered as
 * a Worker's is (the D1 queries, queue sends, Analytics Engine points and Durable Object calls made
 * inside the object), and their storage counts the rows it writes as Durable Objects bill a
 * SQLite-backed object (https://developers.cloudflare.com/durable-objects/platform/pricing/): "Key-value
 * methods like get(), put(), delete(), or list() … are billed as rows read and rows written", "Each
 * setAlarm() is billed as a single row written", "Deletes are counted as rows written": one row per key
 * put, one per key deleted, one per setAlarm(), and a SQL statement's own `rowsWritten` (countSqlWrites,
 * on the object's own SqlStorage, so SQL run through a helper that took it in a field initializer, before
 * this subclass could hand out its metered state, is counted too); deleteAlarm() is not counted (the
 * page does not price it), nor rows read. After each method call and each alarm, one
 * `operations` line, `invocation: "durableObject"`, with what was counted since the previous line
 * (calls interleave where the object awaits other I/O than its storage: the totals are exact, the split
 * between lines may not be).
 */
export function meteredDurableObject<Base extends DurableObjectClass>(Base: Base, className: string): Base {
  const prototype = Base.prototype as Record<string, unknown>;
  const methods = Object.getOwnPropertyNames(prototype).filter(
    (name) =>
      name !== "constructor" && typeof Object.getOwnPropertyDescriptor(prototype, name)?.value === "function",
  );
  const Metered = class extends Base {
    // biome-ignore lint/suspicious/noExplicitAny: the mixin's constructor, as the runtime calls it.
    constructor(...args: any[]) {
      const [ctx, env] = args as [DurableObjectState, Env];
      const counts = noOperations();
      // Before the base class runs, so the object's own field initializers' SQL is counted too.
      countSqlWrites(ctx.storage, (rows) => {
        counts.durableObjectRowsWritten += rows;
      });
      // The runtime's base class takes the real state only; the object then sees the metered one.
      super(ctx, meteredEnv(env, counts));
      Object.defineProperty(this, "ctx", {
        value: meteredState(ctx, counts),
        writable: true,
        configurable: true,
      });
      Object.defineProperty(this, METER, { value: counts });
    }
  };
  for (const method of methods) {
    const original = prototype[method] as (...args: unknown[]) => unknown;
    Object.defineProperty(Metered.prototype, method, {
      configurable: true,
      writable: true,
      value(this: { [METER]: OperationCounts }, ...args: unknown[]) {
        // The object's calls to its own methods are part of the call that made them.
        if (insideCall.getStore()) return Reflect.apply(original, this, args);
        const counts = this[METER];
        return insideCall.run(true, async () => {
          try {
            return await Reflect.apply(original, this, args);
          } finally {
            logOperations({ invocation: "durableObject", class: className, method }, { ...counts });
            Object.assign(counts, noOperations());
          }
        });
      },
    });
  }
  return Metered;
}

/**
 * `ctx` with a storage that adds the rows it writes to `counts`. Wrapped, not changed: every other
 * member is the real one, called on the real object.
 */
export function meteredState(ctx: DurableObjectState, counts: OperationCounts): DurableObjectState {
  const storage = meteredStorage(ctx.storage, counts);
  return new Proxy(ctx, {
    get(target, property) {
      if (property === "storage") return storage;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A Durable Object's storage that adds the rows it writes to `counts` (see meteredDurableObject). */
export function meteredStorage(storage: DurableObjectStorage, counts: OperationCounts): DurableObjectStorage {
  const add = (rows: number) => {
    counts.durableObjectRowsWritten += rows;
  };
  const overrides: Record<string, unknown> = {
    put(keyOrEntries: string | Record<string, unknown>, ...rest: unknown[]) {
      add(typeof keyOrEntries === "string" ? 1 : Object.keys(keyOrEntries).length);
      return Reflect.apply(storage.put, storage, [keyOrEntries, ...rest]);
    },
    async delete(keyOrKeys: string | string[], ...rest: unknown[]) {
      const deleted: boolean | number = await Reflect.apply(storage.delete, storage, [keyOrKeys, ...rest]);
      add(typeof deleted === "number" ? deleted : deleted ? 1 : 0);
      return deleted;
    },
    setAlarm(...args: unknown[]) {
      add(1);
      return Reflect.apply(storage.setAlarm, storage, args);
    },
  };
  let kv: SyncKvStorage | undefined;
  // `sql` is the real one: its statements are counted on it (countSqlWrites), whoever holds it.
  return new Proxy(storage, {
    get(target, property) {
      if (typeof property === "string" && property in overrides) return overrides[property];
      if (property === "kv") {
        kv ??= meteredKv(target.kv, add);
        return kv;
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * Adds each SQL statement's `rowsWritten` to `add`, read when exec() returns (a statement whose rows are
 * read later may write more than that; the ordered lanes' writes are run, not read). Installed on the
 * object's SqlStorage itself rather than on a copy handed out: `storage.sql` is the same object each
 * time it is read, and the service's object takes it in a field initializer (its ordered lanes,
 * src/ordering/ordered-lanes.ts), before meteredDurableObject can give it the metered state. Wraps the
 * prototype's exec, not the current one, so wrapping twice replaces rather than counts twice.
 */
export function countSqlWrites(storage: DurableObjectStorage, add: (rows: number) => void): void {
  let sql: SqlStorage;
  try {
    sql = storage.sql;
  } catch {
    return; // an object on key-value storage has no SQL
  }
  const exec = (Object.getPrototypeOf(sql) as SqlStorage).exec;
  Object.defineProperty(sql, "exec", {
    configurable: true,
    writable: true,
    value: (query: string, ...bindings: unknown[]) => {
      const cursor = Reflect.apply(exec, sql, [query, ...bindings]) as SqlStorageCursor<
        Record<string, SqlStorageValue>
      >;
      add(cursor.rowsWritten);
      return cursor;
    },
  });
}

function meteredKv(kv: SyncKvStorage, add: (rows: number) => void): SyncKvStorage {
  return new Proxy(kv, {
    get(target, property) {
      if (property === "put") {
        return (key: string, value: unknown) => {
          add(1);
          target.put(key, value);
        };
      }
      if (property === "delete") {
        return (key: string) => {
          const deleted = target.delete(key);
          add(deleted ? 1 : 0);
          return deleted;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
