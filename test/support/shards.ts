import { env } from "cloudflare:workers";
import { getOrganization } from "../../src/db/organizations";
import { dataOf, shards } from "../../src/db/shards";
import type { OrganizationId } from "../../src/lib/ids";

/** The shard database holding an organization's events and deliveries (src/db/shards.ts). */
export const dataDb = (organizationId: string) => dataOf(env, organizationId as OrganizationId);

/** One row count over every shard: the same SQL on each, the counts added. */
export async function countOnEveryShard(sql: string, ...params: unknown[]): Promise<number> {
  const counts = await Promise.all(
    shards(env).map(
      async ({ db }) =>
        (await db
          .prepare(sql)
          .bind(...params)
          .first<number>("n")) ?? 0,
    ),
  );
  return counts.reduce((sum, n) => sum + n, 0);
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
