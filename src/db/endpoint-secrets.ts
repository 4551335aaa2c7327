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
  publicKey: string | null,
  createdAt: string,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO endpoint_secrets (endpoint_id, id, ciphertext, public_key, created_at)
       SELECT ?1, ?2, ?3, ?4, ?5
       WHERE EXISTS (SELECT 1 FROM endpoints WHERE id = ?1 AND deleted_at IS NULL)`,
    )
    .bind(endpointId, ulid(), ciphertext, publicKey, createdAt);
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
  endpointId: EndpointId,
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

/**
 * The public keys (`whpk_…`) of a live endpoint's Ed25519 keys that sign at `now`, newest first, with
 * their secrets' ids: its JWKS. Public data, read without an organization (api/verification-keys.ts).
 */
export async function listVerificationKeys(
  db: D1Database,
  endpointId: EndpointId,
  now: string,
): Promise<{ id: string; publicKey: string }[]> {
  const { results } = await db
    .prepare(
      `SELECT s.id, s.public_key FROM endpoint_secrets s JOIN endpoints e ON e.id = s.endpoint_id
       WHERE s.endpoint_id = ? AND e.deleted_at IS NULL AND s.public_key IS NOT NULL
         AND (s.expires_at IS NULL OR s.expires_at > ?)
       ORDER BY s.id DESC`,
    )
    .bind(endpointId, now)
    .all<{ id: string; public_key: string }>();
  return results.map((r) => ({ id: r.id, publicKey: r.public_key }));
}

/** Secrets whose grace window ended sign nothing any more; retention removes them. */
export async function deleteExpiredSecrets(db: D1Database, now: string): Promise<number> {
  const { meta } = await db.prepare("DELETE FROM endpoint_secrets WHERE expires_at <= ?").bind(now).run();
  return meta.changes;
}

/**
 * Deletion purges an endpoint's secrets: in the soft delete's D1 batch, after it, and only if that
 * statement deleted it at `deletedAt` (so another organization's id purges nothing).
 */
export function purgeDeletedEndpointSecrets(
  db: D1Database,
  endpointId: EndpointId,
  deletedAt: string,
): D1PreparedStatement {
  return db
    .prepare(
      `DELETE FROM endpoint_secrets
       WHERE endpoint_id = ?1 AND EXISTS (SELECT 1 FROM endpoints WHERE id = ?1 AND deleted_at = ?2)`,
    )
    .bind(endpointId, deletedAt);
}

/** A stored signing secret, for re-encryption. */
export type StoredSecret = { endpointId: EndpointId; id: string; ciphertext: string };

/**
 * Up to `limit` secrets still signing at `now` that the key `currentKeyId` did not seal, those in the
 * legacy form and under `readableKeyIds` first (no configured key opens the others). migrations/control/0002
 * indexes `key_id` ('' for the legacy form).
 */
export async function listSecretsToReseal(
  db: D1Database,
  keys: { currentKeyId: string; readableKeyIds: readonly string[] },
  now: string,
  limit: number,
): Promise<StoredSecret[]> {
  const { results } = await db
    .prepare(
      `SELECT endpoint_id, id, ciphertext FROM endpoint_secrets
       WHERE (key_id < ?1 OR key_id > ?1) AND (expires_at IS NULL OR expires_at > ?3)
       ORDER BY key_id = '' OR key_id IN (SELECT value FROM json_each(?2)) DESC
       LIMIT ?4`,
    )
    .bind(keys.currentKeyId, JSON.stringify(keys.readableKeyIds), now, limit)
    .all<{ endpoint_id: string; id: string; ciphertext: string }>();
  return results.map((r) => ({
    endpointId: r.endpoint_id as EndpointId,
    id: r.id,
    ciphertext: r.ciphertext,
  }));
}

/** How many secrets still signing at `now` the key `currentKeyId` did not seal (each range by index). */
export async function countSecretsToReseal(
  db: D1Database,
  currentKeyId: string,
  now: string,
): Promise<number> {
  const live = "(expires_at IS NULL OR expires_at > ?2)";
  const n = await db
    .prepare(
      `SELECT (SELECT COUNT(*) FROM endpoint_secrets WHERE key_id < ?1 AND ${live})
         + (SELECT COUNT(*) FROM endpoint_secrets WHERE key_id > ?1 AND ${live}) AS n`,
    )
    .bind(currentKeyId, now)
    .first<number>("n");
  return n ?? 0;
}

/** Puts a resealed secret in place of the one found; one changed since is left alone. */
export function resealSecret(db: D1Database, found: StoredSecret, ciphertext: string): D1PreparedStatement {
  return db
    .prepare("UPDATE endpoint_secrets SET ciphertext = ? WHERE endpoint_id = ? AND id = ? AND ciphertext = ?")
    .bind(ciphertext, found.endpointId, found.id, found.ciphertext);
}
