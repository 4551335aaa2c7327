import type { EndpointId } from "../lib/ids";

/**
 * Signing secrets, stored encrypted (see lib/secret-box.ts). The current secret has no expiry; a
 * rotated-out one keeps signing until its `expires_at`, which needs no job: reads filter on it.
 */
export function insertEndpointSecret(
  db: D1Database,
  endpointId: EndpointId,
  ciphertext: string,
  createdAt: string,
): D1PreparedStatement {
  return db
    .prepare("INSERT INTO endpoint_secrets (endpoint_id, created_at, ciphertext) VALUES (?, ?, ?)")
    .bind(endpointId, createdAt, ciphertext);
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
       ORDER BY created_at DESC`,
    )
    .bind(endpointId, now)
    .all<{ ciphertext: string }>();
  return results.map((r) => r.ciphertext);
}
