import { base64ToBytes, bytesToBase64, randomBytes } from "./base64";

/**
 * Secrets at rest (docs/security.md): AES-256-GCM under `SECRETS_KEY` (32 bytes, base64), so a copy of
 * the database alone neither forges deliveries nor reads an endpoint's credentials. Stored form:
 *
 *   v2:<key id>:<base64(12-byte IV ‖ ciphertext+tag)>
 *
 * The key id is the first 4 bytes of the SHA-256 of the raw key, in hex: operators need not name keys,
 * and a rotation knows what the current key did not seal (migrations/control/0002 indexes it). Each secret is
 * sealed with additional data naming what it is and whose (`endpoint:<id>:signing-secret`), so a
 * ciphertext copied to another row does not open there. The legacy form, bare base64 with no key id
 * and no additional data (before migration 0002), still opens, under any key of the ring.
 */
const IV_BYTES = 12;
const FORMAT = "v2";
const KEY_ID_BYTES = 4;

/**
 * The secrets holding keys. `SECRETS_KEY_PREVIOUS` (comma-separated, during a rotation only) is an
 * optional secret, which wrangler.toml cannot declare: its `[secrets] required` list is what deploys
 * insist on and all `wrangler types` types, so the optional one is typed here.
 */
export type SecretKeys = Pick<Env, "SECRETS_KEY"> & { SECRETS_KEY_PREVIOUS?: string };

type SealingKey = { id: string; key: CryptoKey };
/** The current key seals and opens; previous keys only open. */
export type KeyRing = { current: SealingKey; previous: readonly SealingKey[] };

/** A stored secret no key of the ring opens: sealed under a key no longer configured, or damaged. */
export class UnreadableSecretError extends Error {
  constructor(
    /** What the secret is, e.g. `endpoint:evsub_…:signing-secret` (never any of its content). */
    readonly context: string,
    reason: string,
  ) {
    super(`${context} cannot be decrypted: ${reason}`);
    this.name = "UnreadableSecretError";
  }
}

let cached: { source: string; ring: Promise<KeyRing> } | undefined;

/** The ring of the configured keys, imported once per isolate (keys change only with a deployment). */
export function keyRing(env: SecretKeys): Promise<KeyRing> {
  const source = `${env.SECRETS_KEY}|${env.SECRETS_KEY_PREVIOUS ?? ""}`;
  if (cached?.source !== source) cached = { source, ring: importRing(env) };
  return cached.ring;
}

async function importRing(env: SecretKeys): Promise<KeyRing> {
  const previous = (env.SECRETS_KEY_PREVIOUS ?? "")
    .split(",")
    .map((key) => key.trim())
    .filter((key) => key !== "");
  return {
    current: await importKey(env.SECRETS_KEY, "SECRETS_KEY"),
    previous: await Promise.all(previous.map((key) => importKey(key, "SECRETS_KEY_PREVIOUS"))),
  };
}

async function importKey(encoded: string, name: string): Promise<SealingKey> {
  const raw = base64ToBytes(encoded.trim());
  if (raw.length !== 32) throw new Error(`${name} must hold 32-byte keys, base64-encoded`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
  const id = Array.from(digest.subarray(0, KEY_ID_BYTES), (b) => b.toString(16).padStart(2, "0")).join("");
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  return { id, key };
}

/** Seals `plaintext` under the current key, bound to `context`. */
export async function sealSecret(ring: KeyRing, plaintext: string, context: string): Promise<string> {
  const iv = randomBytes(IV_BYTES);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) },
    ring.current.key,
    new TextEncoder().encode(plaintext),
  );
  const out = new Uint8Array(IV_BYTES + sealed.byteLength);
  out.set(iv);
  out.set(new Uint8Array(sealed), IV_BYTES);
  return `${FORMAT}:${ring.current.id}:${bytesToBase64(out)}`;
}

/** Opens a stored secret sealed for `context`; throws UnreadableSecretError if no key of the ring can. */
export async function openSecret(ring: KeyRing, stored: string, context: string): Promise<string> {
  const [format, keyId, body] = stored.split(":");
  if (body === undefined) return openLegacy(ring, stored, context);
  const key = [ring.current, ...ring.previous].find((k) => k.id === keyId);
  if (format !== FORMAT || !key)
    throw new UnreadableSecretError(context, `sealed under key ${keyId}, which is not configured`);
  const plain = await decrypt(key, body, context);
  if (plain === null)
    throw new UnreadableSecretError(context, `key ${keyId} does not open it (altered or moved)`);
  return plain;
}

async function openLegacy(ring: KeyRing, stored: string, context: string): Promise<string> {
  for (const key of [ring.current, ...ring.previous]) {
    const plain = await decrypt(key, stored, null);
    if (plain !== null) return plain;
  }
  throw new UnreadableSecretError(context, "no configured key opens it (legacy form, before key ids)");
}

async function decrypt(key: SealingKey, base64: string, context: string | null): Promise<string | null> {
  try {
    const bytes = base64ToBytes(base64);
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: bytes.subarray(0, IV_BYTES),
        ...(context === null ? {} : { additionalData: new TextEncoder().encode(context) }),
      },
      key.key,
      bytes.subarray(IV_BYTES),
    );
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}
