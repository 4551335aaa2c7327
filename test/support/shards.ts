import { env } from "cloudflare:workers";
import { type History, type HistoryKind, liveBuckets, tableOf, tableOfId } from "../../src/db/buckets";
import { getOrganization } from "../../src/db/organizations";
import { dataOf, shards } from "../../src/db/shards";
import type { OrganizationId } from "../../src/lib/ids";

/** The history of an organization's shard: its database and weekly tables (src/db/shards.ts, buckets.ts). */
export const historyOfOrganization = (organizationId: string) =>
  dataOf(env, organizationId as OrganizationId);

/** The shard database of an organization, and the table that holds (or would hold) the row of `id`. */
export async function rowTable(organizationId: string, kind: HistoryKind, id: string) {
  const history = await historyOfOrganization(organizationId);
  return { db: history.db, table: tableOfId(history, kind, id) };
}

/** A history on `db` with every row in the legacy tables `events` and `deliveries` (tests of their SQL). */
export const legacyHistory = (db: D1Database): History => ({
  db,
  legacyUntil: Number.POSITIVE_INFINITY,
  key: "legacy",
  payloads: null,
});

/** A history on `db` in weekly tables only, as a shard made after weeks has. */
export const weeklyHistory = (db: D1Database, key = "weekly"): History => ({
  db,
  legacyUntil: 0,
  key,
  payloads: null,
});

/** The tables of `kind` in a database: the legacy one and every week's. */
async function tablesOf(db: D1Database, kind: HistoryKind): Promise<string[]> {
  return (await liveBuckets({ db })).map((bucket) => tableOf(kind, bucket));
}

/** Rows of `kind` where `condition` holds, in every table of `kind` in `db`. */
export async function countIn(
  db: D1Database,
  kind: HistoryKind,
  condition = "1 = 1",
  ...params: unknown[]
): Promise<number> {
  const counts = await Promise.all(
    (await tablesOf(db, kind)).map(
      async (table) =>
        (await db
          .prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${condition}`)
          .bind(...params)
          .first<number>("n")) ?? 0,
    ),
  );
  return counts.reduce((sum, n) => sum + n, 0);
}

/** An organization's rows of `kind`, from every table of its shard, in id order. */
export async function rowsOfOrganization(organizationId: string, kind: HistoryKind): Promise<unknown[]> {
  const { db } = await historyOfOrganization(organizationId);
  const rows = await Promise.all(
    (await tablesOf(db, kind)).map(async (table) => {
      const { results } = await db
        .prepare(`SELECT * FROM ${table} WHERE organization_id = ?`)
        .bind(organizationId)
        .all<{ id: string }>();
      return results;
    }),
  );
  return rows.flat().sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Rows of `kind` where `condition` holds, on every shard. */
export async function countOnEveryShard(kind: HistoryKind, condition = "1 = 1", ...params: unknown[]) {
  const counts = await Promise.all(shards(env).map(({ db }) => countIn(db, kind, condition, ...params)));
  return counts.reduce((sum, n) => sum + n, 0);
}

/** An organization's rows of `kind` (where `condition` also holds), on its shard. */
export async function countOfOrganization(
  organizationId: string,
  kind: HistoryKind,
  condition = "1 = 1",
  ...params: unknown[]
) {
  const { db } = await historyOfOrganization(organizationId);
  return countIn(db, kind, `organization_id = ? AND ${condition}`, organizationId, ...params);
}

/**
 * `env` with the organization's shard binding wrapped (fault injection on its data plane): the
 * control plane, `DB`, and the other shards are left as they are.
 */
export async function envWithDataDb(
  organizationId: string,
  wrap: (db: D1Database) => D1Database,
): Promise<Env> {
  const organization = await getOrganization(env.DB, organizationId as OrganizationId);
  if (!organization) throw new Error(`no organization ${organizationId}`);
  const binding = `DB_SHARD_${organization.shard}`;
  const bound = env as unknown as Record<string, D1Database>;
  return { ...env, [binding]: wrap(bound[binding] as D1Database) };
}
