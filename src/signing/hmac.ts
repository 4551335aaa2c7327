import { bytesToBase64 } from "../lib/base64";

/**
 * HMAC-SHA256 with imported keys cached per isolate: importing a key costs more than signing a
 * webhook body, and one secret signs every delivery of its endpoint. The cache is bounded (oldest
 * entry evicted first) so a long-lived isolate does not grow with the number of endpoints.
 */
const MAX_CACHED_KEYS = 1_000;
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(cacheKey: string, raw: () => BufferSource): Promise<CryptoKey> {
  let key = keys.get(cacheKey);
  if (!key) {
    if (keys.size >= MAX_CACHED_KEYS) {
      const oldest = keys.keys().next().value;
      if (oldest !== undefined) keys.delete(oldest);
    }
    key = crypto.subtle.importKey("raw", raw(), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    keys.set(cacheKey, key);
  }
  return key;
}

/** Base64 of HMAC-SHA256(`content`) under the key `raw()` returns; `cacheKey` identifies that key. */
export async function hmacSha256Base64(
  cacheKey: string,
  raw: () => BufferSource,
  content: string,
): Promise<string> {
  const key = await hmacKey(cacheKey, raw);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(content));
  return bytesToBase64(new Uint8Array(mac));
}
