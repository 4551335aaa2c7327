import {
  countSecretsToReseal,
  listSecretsToReseal,
  resealSecret,
  type StoredSecret,
} from "../db/endpoint-secrets";
import {
  countHeaderValuesToReseal,
  type HeaderValuesToReseal,
  listHeaderValuesToReseal,
  resealHeaderValues,
} from "../db/endpoints/reseal";
import { openHeaderValues, sealHeaderValues, signingSecretContext } from "../delivery/endpoint-credentials";
import {
  type KeyRing,
  keyRing,
  openSecret,
  type SecretKeys,
  sealSecret,
  UnreadableSecretError,
} from "../lib/secret-box";

/** Rows looked at per call (an admin request, a cron run): bounded work, however much is left. */
export const REENCRYPT_BATCH = 100;

export type ReencryptReport = {
  /** Secrets and endpoints' header values sealed again under the current key by this call. */
  reencrypted: number;
  /**
   * How many are still not sealed under the current key (or not at all, from before 0002); expired
   * signing secrets aside, which sign nothing and which retention removes.
   */
  remaining: number;
  /** Endpoints with a secret this call found no configured key opens. */
  unreadable: string[];
};

/**
 * The re-encryption step of a `SECRETS_KEY` rotation (docs/security.md), which also converts what
 * migration 0002 left: seals again under the current key, with additional data, up to `limit` signing
 * secrets and header values sealed under a previous key, in the legacy form, or (header values) in clear. Run
 * by the cron trigger and by `POST /admin/v1/secrets/reencrypt`, which scripts/rotate-secrets-key.mjs
 * calls until nothing remains. A row changed meanwhile (a rotation, a PATCH) is left as it is: it
 * was sealed under the current key anyway.
 */
export async function reencryptSecrets(
  env: Pick<Env, "DB"> & SecretKeys,
  limit = REENCRYPT_BATCH,
): Promise<ReencryptReport> {
  const ring = await keyRing(env);
  const now = new Date().toISOString();
  const keys = { currentKeyId: ring.current.id, readableKeyIds: ring.previous.map((key) => key.id) };
  const secrets = await listSecretsToReseal(env.DB, keys, now, limit);
  const headerValues =
    secrets.length < limit ? await listHeaderValuesToReseal(env.DB, keys, limit - secrets.length) : [];
  const unreadable = new Set<string>();
  const resealed = await Promise.all([
    ...secrets.map((found) =>
      unlessUnreadable(found.endpointId, unreadable, resealStatement(env, ring, found)),
    ),
    ...headerValues.map((found) =>
      unlessUnreadable(found.id, unreadable, resealHeadersStatement(env, ring, found)),
    ),
  ]);
  const writes = resealed.filter((statement) => statement !== null);
  const results = writes.length > 0 ? await env.DB.batch(writes) : [];
  const report = {
    reencrypted: results.reduce((n, result) => n + result.meta.changes, 0),
    remaining:
      (await countSecretsToReseal(env.DB, keys.currentKeyId, now)) +
      (await countHeaderValuesToReseal(env.DB, keys.currentKeyId)),
    unreadable: [...unreadable],
  };
  if (report.reencrypted > 0 || report.unreadable.length > 0)
    console.log(JSON.stringify({ message: "secrets re-encrypted", ...report }));
  return report;
}

async function resealStatement(env: Pick<Env, "DB">, ring: KeyRing, found: StoredSecret) {
  const context = signingSecretContext(found.endpointId);
  const plaintext = await openSecret(ring, found.ciphertext, context);
  return resealSecret(env.DB, found, await sealSecret(ring, plaintext, context));
}

async function resealHeadersStatement(env: Pick<Env, "DB">, ring: KeyRing, found: HeaderValuesToReseal) {
  const values = await openHeaderValues(ring, found);
  return resealHeaderValues(env.DB, found, await sealHeaderValues(ring, found.id, values));
}

/** A secret no key opens is reported, not thrown: the others still get resealed. */
async function unlessUnreadable(
  endpointId: string,
  unreadable: Set<string>,
  statement: Promise<D1PreparedStatement>,
): Promise<D1PreparedStatement | null> {
  try {
    return await statement;
  } catch (error) {
    if (!(error instanceof UnreadableSecretError)) throw error;
    unreadable.add(endpointId);
    return null;
  }
}
