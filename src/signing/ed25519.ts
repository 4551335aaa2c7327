import { base64ToBytes, bytesToBase64, bytesToBase64Url } from "../lib/base64";
import { keyCache } from "./key-cache";

/**
 * Standard Webhooks asymmetric signatures (`v1a`, Ed25519), for receivers that keep their trust
 * material in a KMS, publish it as a JWK, or cannot hold a shared secret safely: they verify with a
 * public key, and only this service can sign. The signed content is the same as for `v1`
 * (src/signing/standard-webhooks.ts), `${msgId}.${timestamp}.${body}` as UTF-8, and the header value
 * is one `v1a,<base64 of the 64-byte signature>` per live key, space-separated, so it can rotate the
 * same way and even sit next to `v1` entries.
 *
 * Keys: `whsk_` + base64 of the 32-byte private key seed (RFC 8032's "secret key"), `whpk_` + base64
 * of the 32-byte public key. WebCrypto cannot import a raw Ed25519 private key, so the seed is wrapped
 * in the fixed PKCS#8 header below, which needs no public key; the public key is stored beside it
 * (db/endpoint-secrets.ts). A libsodium-style 64-byte secret key (seed || public
 * key) is refused; its first 32 bytes are the seed to store.
 */
export const PRIVATE_KEY_PREFIX = "whsk_";
export const PUBLIC_KEY_PREFIX = "whpk_";

/** Both the private key seed and the public key are 32 bytes. */
const KEY_BYTES = 32;
/** DER of PrivateKeyInfo { version 0, AlgorithmIdentifier { id-Ed25519 }, OCTET STRING { OCTET STRING (32) } }. */
const PKCS8_PREFIX = [
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const ED25519 = { name: "Ed25519" } as const;

/** Imported signing keys per isolate (key-cache.ts). */
const signingKey = keyCache(1_000);

function pkcs8Of(privateKey: string): Uint8Array<ArrayBuffer> {
  if (!privateKey.startsWith(PRIVATE_KEY_PREFIX)) {
    throw new TypeError(`An Ed25519 private key starts with ${PRIVATE_KEY_PREFIX}`);
  }
  const seed = base64ToBytes(privateKey.slice(PRIVATE_KEY_PREFIX.length));
  if (seed.length !== KEY_BYTES) {
    throw new TypeError(`An Ed25519 private key holds a ${KEY_BYTES}-byte seed, not ${seed.length} bytes`);
  }
  const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + KEY_BYTES);
  pkcs8.set(PKCS8_PREFIX);
  pkcs8.set(seed, PKCS8_PREFIX.length);
  return pkcs8;
}

function importPrivateKey(privateKey: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", pkcs8Of(privateKey), ED25519, false, ["sign"]);
}

/** Standard base64 of a JWK member (base64url without padding). */
function jwkMemberToBase64(member: string | undefined): string {
  if (member === undefined) throw new TypeError("The exported Ed25519 JWK lacks a key member");
  const base64 = member.replaceAll("-", "+").replaceAll("_", "/");
  return base64.padEnd(Math.ceil(base64.length / 4) * 4, "=");
}

/** A new key pair: `whsk_` + base64 of the 32-byte seed, `whpk_` + base64 of the 32-byte public key. */
export async function generateEd25519KeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  const pair = (await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  return {
    privateKey: PRIVATE_KEY_PREFIX + jwkMemberToBase64(jwk.d),
    publicKey: PUBLIC_KEY_PREFIX + jwkMemberToBase64(jwk.x),
  };
}

/**
 * The `webhook-signature` value for Ed25519: `v1a,<base64>` per private key, space-separated, over
 * `${msgId}.${timestamp}.${body}` (as `signStandardWebhooks` in src/signing/standard-webhooks.ts).
 */
export async function signStandardWebhooksEd25519(
  privateKeys: readonly string[],
  msgId: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const content = new TextEncoder().encode(`${msgId}.${timestamp}.${body}`);
  const signatures = await Promise.all(
    privateKeys.map(async (privateKey) => {
      const signature = await crypto.subtle.sign(
        ED25519,
        await signingKey(privateKey, () => importPrivateKey(privateKey)),
        content,
      );
      return `v1a,${bytesToBase64(new Uint8Array(signature))}`;
    }),
  );
  return signatures.join(" ");
}

/** An RFC 8037 JWK of a `whpk_` public key, for receivers that load verification keys as JWKs (a JWKS). */
export function toJwk(
  publicKey: string,
  kid: string,
): { kty: "OKP"; crv: "Ed25519"; x: string; kid: string; use: "sig"; alg: "EdDSA" } {
  if (!publicKey.startsWith(PUBLIC_KEY_PREFIX)) {
    throw new TypeError(`An Ed25519 public key starts with ${PUBLIC_KEY_PREFIX}`);
  }
  const raw = base64ToBytes(publicKey.slice(PUBLIC_KEY_PREFIX.length));
  if (raw.length !== KEY_BYTES) {
    throw new TypeError(`An Ed25519 public key is ${KEY_BYTES} bytes, not ${raw.length}`);
  }
  const x = bytesToBase64Url(raw);
  return { kty: "OKP", crv: "Ed25519", x, kid, use: "sig", alg: "EdDSA" };
}
