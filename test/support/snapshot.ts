import { env } from "cloudflare:workers";
import { dataDb } from "./shards";

/** A digest of everything an organization owns, to show that a refused request changed nothing. */
export async function snapshotOf(organizationId: string): Promise<string> {
  const data = await dataDb(organizationId);
  const tables = [
    [env.DB, "endpoints"],
    [data, "events"],
    [data, "deliveries"],
  ] as const;
  const rows = await Promise.all(
    tables.map(([db, t]) =>
      db.prepare(`SELECT * FROM ${t} WHERE organization_id = ? ORDER BY id`).bind(organizationId).all(),
    ),
  );
  const secrets = await env.DB.prepare(
    "SELECT s.* FROM endpoint_secrets s JOIN endpoints e ON e.id = s.endpoint_id WHERE e.organization_id = ? ORDER BY s.id",
  )
    .bind(organizationId)
    .all();
  return JSON.stringify([...rows.map((r) => r.results), secrets.results]);
}
