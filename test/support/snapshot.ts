import { env } from "cloudflare:workers";
import { rowsOfOrganization } from "./shards";

/** A digest of everything an organization owns, to show that a refused request changed nothing. */
export async function snapshotOf(organizationId: string): Promise<string> {
  const endpoints = await env.DB.prepare("SELECT * FROM endpoints WHERE organization_id = ? ORDER BY id")
    .bind(organizationId)
    .all();
  const secrets = await env.DB.prepare(
    "SELECT s.* FROM endpoint_secrets s JOIN endpoints e ON e.id = s.endpoint_id WHERE e.organization_id = ? ORDER BY s.id",
  )
    .bind(organizationId)
    .all();
  return JSON.stringify([
    endpoints.results,
    await rowsOfOrganization(organizationId, "events"),
    await rowsOfOrganization(organizationId, "deliveries"),
    secrets.results,
  ]);
}
