import type { OrganizationId } from "../lib/ids";
import { type Page, type PageQuery, toPage, where } from "./page";

/** An organization; `shard` is where its events and deliveries live (db/shards.ts), set once. */
export type Organization = { id: OrganizationId; name: string; shard: number; createdAt: string };

type OrganizationRow = { id: string; name: string; shard: number; created_at: string };

const toOrganization = (row: OrganizationRow): Organization => ({
  id: row.id as OrganizationId,
  name: row.name,
  shard: row.shard,
  createdAt: row.created_at,
});

export async function insertOrganization(db: D1Database, org: Organization): Promise<void> {
  await db
    .prepare("INSERT INTO organizations (id, name, shard, created_at) VALUES (?, ?, ?, ?)")
    .bind(org.id, org.name, org.shard, org.createdAt)
    .run();
}

/** The shard of the organization's data; null when there is no such organization. */
export async function organizationShard(db: D1Database, id: OrganizationId): Promise<number | null> {
  return db.prepare("SELECT shard FROM organizations WHERE id = ?").bind(id).first<number>("shard");
}

export async function getOrganization(db: D1Database, id: OrganizationId): Promise<Organization | null> {
  const row = await db.prepare("SELECT * FROM organizations WHERE id = ?").bind(id).first<OrganizationRow>();
  return row ? toOrganization(row) : null;
}

export async function listOrganizations(db: D1Database, page: PageQuery): Promise<Page<Organization>> {
  const filter = where([["id < ?", page.cursor]]);
  const { results } = await db
    .prepare(`SELECT * FROM organizations WHERE ${filter.sql} ORDER BY id DESC LIMIT ?`)
    .bind(...filter.params, page.limit + 1)
    .all<OrganizationRow>();
  return toPage(results.map(toOrganization), page.limit);
}

/** Up to `limit` organization ids after `after` in id order, for walks over every organization. */
export async function organizationIdsAfter(
  db: D1Database,
  after: string,
  limit: number,
): Promise<OrganizationId[]> {
  const { results } = await db
    .prepare("SELECT id FROM organizations WHERE id > ? ORDER BY id LIMIT ?")
    .bind(after, limit)
    .all<{ id: string }>();
  return results.map((r) => r.id as OrganizationId);
}
