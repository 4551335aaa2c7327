-- Standard Webhooks asymmetric signatures (`v1a`, Ed25519: src/signing/ed25519.ts). An endpoint signs
-- new keys with `signature_algorithm`; `verification_key` is the public key (`whpk_…`) of its current
-- Ed25519 key, NULL for HMAC. Each Ed25519 secret keeps its public key in clear beside its sealed
-- private key, for the endpoint's JWKS (src/api/verification-keys.ts), grace-window keys included.
ALTER TABLE endpoints ADD COLUMN signature_algorithm TEXT NOT NULL DEFAULT 'hmac-sha256';
ALTER TABLE endpoints ADD COLUMN verification_key TEXT;
ALTER TABLE endpoint_secrets ADD COLUMN public_key TEXT;
