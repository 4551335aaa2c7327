/**
 * The forms secrets take at rest, as docs/security.md documents them, worked with WebCrypto alone (not
 * with src/lib/secret-box.ts), so a test shows the stored rows are what the documentation promises:
 *
 *   v2:<key id>:<base64(12-byte IV ‖ AES-256-GCM ciphertext and tag)>, bound to its context as additional data
 *
 * and API tokens are kept only as the hex SHA-256 of the token.
 */

/** SECRETS_KEY of vitest.config.ts, and two keys the service is not configured with. */
export const SECRETS_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
export const OLD_KEY = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
export const OTHER_KEY = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";

const bytesOf = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
const base64Of = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

async function aesKey(base64Key: string, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", bytesOf(base64Key), "AES-GCM", false, [usage]);
}

/** The documented key id: the first 4 bytes of the SHA-256 of the raw key, in hex. */
export async function keyId(base64Key: string): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytesOf(base64Key))).subarray(0, 4));
}

/** Opens a stored `v2:` secret with `base64Key` for `context`; rejects if it does not open. */
export async function openSealed(stored: string, base64Key: string, context: string): Promise<string> {
  const [format, , body] = stored.split(":");
  if (format !== "v2" || body === undefined) throw new Error(`not a sealed secret: ${stored.slice(0, 12)}…`);
  const bytes = bytesOf(body);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.subarray(0, 12), additionalData: new TextEncoder().encode(context) },
    await aesKey(base64Key, "decrypt"),
    bytes.subarray(12),
  );
  return new TextDecoder().decode(plain);
}

/** The same stored secret with one bit of its ciphertext flipped. */
export function tampered(stored: string): string {
  const [format, id, body = ""] = stored.split(":");
  const bytes = bytesOf(body);
  bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 1;
  return `${format}:${id}:${base64Of(bytes)}`;
}

/** The form ciphertexts had before key ids: base64(IV ‖ AES-GCM ciphertext), no additional data. */
export async function legacyCiphertext(base64Key: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    await aesKey(base64Key, "encrypt"),
    new TextEncoder().encode(plaintext),
  );
  return base64Of(new Uint8Array([...iv, ...new Uint8Array(sealed)]));
}

/** The hex SHA-256 of an API token: all the service may keep of it. */
export async function tokenHash(token: string): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
}
