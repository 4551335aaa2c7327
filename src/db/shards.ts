import { getConfig } from "../config";
import type { OrganizationId } from "../lib/ids";
import type { History } from "./buckets";
import { organizationShard } from "./organizations";

/**
 * The data plane's partitions (docs/scale.md): events and deliveries live in D1 databases bound as
 * DB_SHARD_0 … DB_SHARD_<n> in wrangler.toml, an organization's in the one its row in the control
 * plane names. This is the one place a database is chosen for data: every query on events or
 * deliveries runs on the history this module gives for its organization (its shard's database, with
 * its weekly tables: db/buckets.ts), and work across organizations (the sweeper, retention) goes over
 * every shard in turn.
 */
export type Shard = { index: number; db: D1Database };

/** A shard's history on the shard's database itself (whose sessions read replicas: api/history.ts). */
export type ShardHistory = History & { db: D1Database };

/** Every shard, in order: the bindings DB_SHARD_0, DB_SHARD_1, … up to the first missing number. */
export function shards(env: Env): Shard[] {
  const bound = env as unknown as Record<string, D1Database | undefined>;
  const found: Shard[] = [];
  for (let index = 0; bound[`DB_SHARD_${index}`]; index++) {
    found.push({ index, db: bound[`DB_SHARD_${index}`] as D1Database });
  }
  return found;
}

// An organization's shard never changes (db/organizations.ts), so each isolate remembers those it has
// read, a D1 read saved on nearly every request. Bounded, as isolates can live long.
const known = new Map<OrganizationId, number>();
const KNOWN_LIMIT = 10_000;

/** The history of the organization's shard; null when there is no such organization. */
export async function shardOf(env: Env, organizationId: OrganizationId): Promise<ShardHistory | null> {
  let index = known.get(organizationId);
  if (index === undefined) {
    const read = await organizationShard(env.DB, organizationId);
    if (read === null) return null;
    if (known.size >= KNOWN_LIMIT) known.clear();
    known.set(organizationId, read);
    index = read;
  }
  const shard = shards(env)[index];
  if (!shard) throw new Error(`organization ${organizationId} is on shard ${index}, which is not bound`);
  return historyOf(env, shard);
}

/** The history of an organization that exists (its id came from a stored row or a message). */
export async function dataOf(env: Env, organizationId: OrganizationId): Promise<ShardHistory> {
  const history = await shardOf(env, organizationId);
  if (!history) throw new Error(`no organization ${organizationId}`);
  return history;
}

// Where each shard's legacy bucket ends is set once, by its migration (migrations/data/0001), so each
// isolate reads it once; retention sets it to 0 here when it drops the legacy tables.
const legacyEnds = new Map<number, number>();

/** A shard's history, on its database, with the R2 bucket of large event data. */
export async function historyOf(env: Env, shard: Shard): Promise<ShardHistory> {
  let legacyUntil = legacyEnds.get(shard.index);
  if (legacyUntil === undefined) {
    legacyUntil =
      (await shard.db.prepare("SELECT until_ms FROM history_legacy").first<number>("until_ms")) ?? 0;
    legacyEnds.set(shard.index, legacyUntil);
  }
  const payloads = { bucket: env.PAYLOADS, thresholdBytes: getConfig(env).payloadInR2Bytes };
  return { db: shard.db, legacyUntil, key: `DB_SHARD_${shard.index}`, payloads };
}

/** Retention dropped the shard's legacy tables: no id is looked for there any more. */
export function forgetLegacy(shard: Shard): void {
  legacyEnds.set(shard.index, 0);
}

/**
 * The shard for a new organization, drawn by weight: `SHARD_WEIGHTS`, one per shard in order. Once
 * weights are set, a shard without one, or of weight 0, takes no new organization (a shard just
 * bound waits for its weight); with none set, every shard weighs the same.
 */
export function shardForNewOrganization(
  weights: readonly number[],
  shardCount: number,
  random: () => number = Math.random,
): number {
  const usable = Array.from({ length: shardCount }, (_, i) => (weights.length === 0 ? 1 : (weights[i] ?? 0)));
  const total = usable.reduce((sum, w) => sum + w, 0);
  if (total === 0) throw new Error("SHARD_WEIGHTS gives no bound shard a weight");
  let draw = random() * total;
  for (const [index, weight] of usable.entries()) {
    if (draw < weight) return index;
    draw -= weight;
  }
  return usable.findLastIndex((w) => w > 0);
}
