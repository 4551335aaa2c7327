import { bytesToBase64 } from "../lib/base64";
import { keyCache } from "./key-cache";

/** HMAC-SHA256 with imported keys cached per isolate (key-cache.ts). */
const hmacKey = keyCache(1_000);

/** Base64 of HMAC-SHA256(`content`) under the key `raw()` returns; `cacheKey` identifies that key. */
export async function hmacSha256Base64(
  cacheKey: string,
  raw: () => BufferSource,
  content: string,
): Promise<string> {
  const key = await hmacKey(cacheKey, () =>
    crypto.subtle.importKey("raw", raw(), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(content));
  return bytesToBase64(new Uint8Array(mac));
}
