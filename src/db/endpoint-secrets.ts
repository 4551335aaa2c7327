import type { EndpointId } from "../lib/ids";
import { ulid } from "../lib/ids";

/**
 * Signing secrets, stored encrypted (see lib/secret-box.ts). The current secret has no expiry; a
 * rotated-out one keeps signing until its `expires_at`, which needs no job: reads filter on it.
 * A secret is written only for a live endpoint: in the batch that creates one, after its insert,
 * which the endpoint caps may refuse (db/endpoints.ts), no secret is left without its endpoint.
 */
export function insertEndpointSecret(
  db: D1Database,
  endpointId: EndpointId,
  ciphertext: string,
  createdAt: string,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO endpoint_secrets (endpoint_id, id, ciphertext, created_at) SELECT ?1, ?2, ?3, ?4
       WHERE EXISTS (SELECT 1 FROM endpoints WHERE id = ?1 AND deleted_at IS NULL)`,
    )
    .bind(endpointId, ulid(), ciphertext, createdAt);
}

/**
 * Rotation: every secret that still signs stops at `expiresAt` at the latest (now, for no grace).
 * Written in the same batch as the new secret's insert, which must come after it.
 */
export function expireSigningSecrets(
  db: D1Database,
  endpointId: EndpointId,
  expiresAt: string,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE endpoint_secrets SET expires_at = ?1
       WHERE endpoint_id = ?2 AND (expires_at IS NULL OR expires_at > ?1)`,
    )
    .bind(expiresAt, endpointId);
}

/** Ciphertexts of the secrets that sign at `now`, newest first. */
export async function listSigningSecretCiphertexts(
  db: D1Database,
  endpointId: string,
  now: string,
): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT ciphertext FROM endpoint_secrets
       WHERE endpoint_id = ? AND (expires_at IS NULL OR expires_at > ?)
       ORDER BY id DESC`,
    )
    .bind(endpointId, now)
    .all<{ ciphertext: string }>();
  return results.map((r) => r.ciphertext);
}

/** Secrets whose grace window ended sign nothing any more; retention removes them. */
export async function deleteExpiredSecrets(db: D1Database, now: string): Promise<number> {
  const { meta } = await db.prepare("DELETE FROM endpoint_secrets WHERE expires_at <= ?").bind(now).run();
  return meta.changes;
}
