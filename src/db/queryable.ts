/**
 * What SQL runs on: a database, or a session of one (D1 read replication: reads from a nearby replica
 * at least as new as the session's bookmark). The SQL modules need only these two methods.
 */
export type Queryable = Pick<D1Database, "prepare" | "batch">;
