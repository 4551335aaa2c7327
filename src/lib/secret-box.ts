import { base64ToBytes, bytesToBase64, randomBytes } from "./base64";

/**
 * Encrypts endpoint signing secrets at rest with AES-256-GCM under `SECRETS_KEY` (32 bytes, base64),
 * so a copy of the database alone does not let anyone forge deliveries. Stored form:
 * base64(12-byte IV ‖ ciphertext+tag).
 */
const IV_BYTES = 12;
const keys = new Map<string, Promise<CryptoKey>>();

function aesKey(secretsKey: string): Promise<CryptoKey> {
  let key = keys.get(secretsKey);
  if (!key) {
    const raw = base64ToBytes(secretsKey);
    if (raw.length !== 32) throw new Error("SECRETS_KEY must be 32 bytes, base64-encoded");
    key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    keys.set(secretsKey, key);
  }
  return key;
}

export async function encryptSecret(secretsKey: string, plaintext: string): Promise<string> {
  const iv = randomBytes(IV_BYTES);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    await aesKey(secretsKey),
    new TextEncoder().encode(plaintext),
  );
  const out = new Uint8Array(IV_BYTES + sealed.byteLength);
  out.set(iv);
  out.set(new Uint8Array(sealed), IV_BYTES);
  return bytesToBase64(out);
}

export async function decryptSecret(secretsKey: string, stored: string): Promise<string> {
  const bytes = base64ToBytes(stored);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES) },
    await aesKey(secretsKey),
    bytes.subarray(IV_BYTES),
  );
  return new TextDecoder().decode(plain);
}
