import type { ApiKeyId, OrganizationId } from "../lib/ids";

/** An API key as stored: the token itself is never kept, only its SHA-256 hash. */
export type ApiKey = {
  id: ApiKeyId;
  organizationId: OrganizationId;
  name: string;
  scopes: string[];
  createdAt: string;
  revokedAt: string | null;
};

type ApiKeyRow = {
  id: string;
  organization_id: string;
  name: string;
  scopes: string;
  created_at: string;
  revoked_at: string | null;
};

const toApiKey = (row: ApiKeyRow): ApiKey => ({
  id: row.id as ApiKeyId,
  organizationId: row.organization_id as OrganizationId,
  name: row.name,
  scopes: JSON.parse(row.scopes),
  createdAt: row.created_at,
  revokedAt: row.revoked_at,
});

export async function insertApiKey(db: D1Database, key: ApiKey, tokenHash: string): Promise<void> {
  await db
    .prepare(
      "INSERT INTO api_keys (id, organization_id, name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(key.id, key.organizationId, key.name, tokenHash, JSON.stringify(key.scopes), key.createdAt)
    .run();
}

/** The unrevoked key whose token hashes to `tokenHash`, if any. */
export async function findActiveApiKey(db: D1Database, tokenHash: string): Promise<ApiKey | null> {
  const row = await db
    .prepare("SELECT * FROM api_keys WHERE token_hash = ? AND revoked_at IS NULL")
    .bind(tokenHash)
    .first<ApiKeyRow>();
  return row ? toApiKey(row) : null;
}

/** Revokes a live key; false when no such live key exists. */
export async function revokeApiKey(db: D1Database, id: string, at: string): Promise<boolean> {
  const { meta } = await db
    .prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
    .bind(at, id)
    .run();
  return meta.changes > 0;
}
