/**
 * A Convoy-style signature as its receivers compute it (docs/receiving.md#convoy-scheme), with WebCrypto
 * alone (not with src/signing/convoy.ts): base64 of HMAC-SHA256 over `${t},${body}`, keyed by the
 * secret string's own bytes.
 */
export async function convoySignature(secret: string, t: string, body: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${t},${body}`));
  return btoa(String.fromCharCode(...new Uint8Array(mac)));
}
