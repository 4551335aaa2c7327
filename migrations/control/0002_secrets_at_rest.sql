-- Secrets at rest (docs/security.md). Custom header values are credentials in practice: from here on
-- they are sealed like signing secrets (src/lib/secret-box.ts) and `headers` holds only their masks.
-- Ciphertexts carry the id of the key that sealed them; a generated column exposes it, so re-encryption
-- under a new SECRETS_KEY (src/sweeper/reencrypt-secrets.ts) finds what is left by index.

-- The values, one JSON object sealed under SECRETS_KEY; NULL when the endpoint has none.
ALTER TABLE endpoints ADD COLUMN header_values TEXT;
-- The values of a row stored before this migration, in clear, until re-encryption (or a PATCH) seals them.
ALTER TABLE endpoints ADD COLUMN legacy_header_values TEXT;
-- The key id of `v2:<key id>:…` (secret-box.ts); '' while the values are in clear, which sorts before
-- every real id; NULL when there are none.
ALTER TABLE endpoints ADD COLUMN header_values_key_id TEXT AS (
  CASE
    WHEN legacy_header_values IS NOT NULL THEN ''
    WHEN substr(header_values, 1, 3) = 'v2:' THEN substr(header_values, 4, 8)
  END
) VIRTUAL;
-- Re-encryption: the endpoints whose values the current key did not seal.
CREATE INDEX endpoints_by_header_values_key ON endpoints (header_values_key_id)
  WHERE header_values_key_id IS NOT NULL;

-- The same for signing secrets; '' for the legacy form, which has no key id.
ALTER TABLE endpoint_secrets ADD COLUMN key_id TEXT AS (
  CASE WHEN substr(ciphertext, 1, 3) = 'v2:' THEN substr(ciphertext, 4, 8) ELSE '' END
) VIRTUAL;
-- Re-encryption: the signing secrets the current key did not seal.
CREATE INDEX endpoint_secrets_by_key ON endpoint_secrets (key_id);

-- Existing values leave `headers`, which keeps their names with a mask that shows nothing of them.
UPDATE endpoints
SET legacy_header_values = headers,
    headers = (SELECT json_group_object(key, '••••••••') FROM json_each(endpoints.headers))
WHERE headers <> '{}' AND deleted_at IS NULL;

-- A deleted endpoint's secrets and header values are purged (deletion does so from now on).
DELETE FROM endpoint_secrets WHERE endpoint_id IN (SELECT id FROM endpoints WHERE deleted_at IS NOT NULL);
UPDATE endpoints SET headers = '{}' WHERE deleted_at IS NOT NULL AND headers <> '{}';
