import { base64ToBytes, bytesToBase64Url, randomBytes } from "./base64";
import type { OrganizationId } from "./ids";

/**
 * Portal sessions (docs/architecture.md#customer-portal): a signed, short-lived, single-organization
 * token, with no row anywhere. The platform asks for one (api/portal-sessions.ts) and hands its
 * customer the link; the link's token, in the URL's fragment so no server or log ever sees it, is
 * exchanged for the same token in an HttpOnly cookie. The portal's pages then call the API as that
 * organization with it (`ps_…` bearer, api/auth.ts), so every rule — validation, tenancy, coverage,
 * read-only — is the API's own.
 *
 * Token: `ps_<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`, keyed by a key derived (HKDF) from
 * SECRETS_KEY for this use alone: rotating SECRETS_KEY ends every session, which a short life allows.
 */
export type PortalTheme = {
  /** `#rrggbb`. */
  accentColor?: string;
  /** An https URL (or http on a loopback host in development) of the platform's logo. */
  logoUrl?: string;
  mode?: "light" | "dark" | "auto";
};

export type PortalClaims = {
  organizationId: OrganizationId;
  /** Epoch seconds. */
  expiresAt: number;
  readOnly: boolean;
  /** Random, names the session in rate limits and logs (never the token). */
  sessionId: string;
  theme: PortalTheme;
};

export const PORTAL_TOKEN_PREFIX = "ps_";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

let cachedKey: { source: string; key: Promise<CryptoKey> } | undefined;

/** The HMAC key for portal tokens, derived once per isolate from SECRETS_KEY. */
function signingKey(env: Pick<Env, "SECRETS_KEY">): Promise<CryptoKey> {
  if (cachedKey?.source !== env.SECRETS_KEY) {
    cachedKey = { source: env.SECRETS_KEY, key: deriveKey(env.SECRETS_KEY) };
  }
  return cachedKey.key;
}

async function deriveKey(secretsKey: string): Promise<CryptoKey> {
  const master = await crypto.subtle.importKey("raw", base64ToBytes(secretsKey), "HKDF", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode("portal-session-v1") },
    master,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}

/** A new session's token for `organizationId`, valid for `expiresInSec` from `now` (ms). */
export async function signPortalToken(
  env: Pick<Env, "SECRETS_KEY">,
  claims: Omit<PortalClaims, "sessionId" | "expiresAt">,
  expiresInSec: number,
  now: number,
): Promise<{ token: string; claims: PortalClaims }> {
  const full: PortalClaims = {
    ...claims,
    expiresAt: Math.floor(now / 1000) + expiresInSec,
    sessionId: bytesToBase64Url(randomBytes(12)),
  };
  const body = bytesToBase64Url(encoder.encode(JSON.stringify(full)));
  const mac = await crypto.subtle.sign("HMAC", await signingKey(env), encoder.encode(body));
  return { token: `${PORTAL_TOKEN_PREFIX}${body}.${bytesToBase64Url(new Uint8Array(mac))}`, claims: full };
}

/** The claims of a token this service signed and that has not expired at `now` (ms), else null. */
export async function verifyPortalToken(
  env: Pick<Env, "SECRETS_KEY">,
  token: string,
  now: number,
): Promise<PortalClaims | null> {
  if (!token.startsWith(PORTAL_TOKEN_PREFIX)) return null;
  const [body, mac, extra] = token.slice(PORTAL_TOKEN_PREFIX.length).split(".");
  if (!body || !mac || extra !== undefined) return null;
  const macBytes = base64UrlToBytes(mac);
  if (!macBytes) return null;
  const valid = await crypto.subtle.verify("HMAC", await signingKey(env), macBytes, encoder.encode(body));
  if (!valid) return null;
  // Signed by this service, so it parses; checked all the same, as anything read from a request.
  const claims = parseClaims(base64UrlToBytes(body));
  if (!claims || claims.expiresAt * 1000 <= now) return null;
  return claims;
}

function parseClaims(bytes: Uint8Array | null): PortalClaims | null {
  if (!bytes) return null;
  try {
    const claims = JSON.parse(decoder.decode(bytes)) as PortalClaims;
    return typeof claims.expiresAt === "number" && typeof claims.organizationId === "string" ? claims : null;
  } catch {
    return null;
  }
}

/** Base64url text as bytes; null for anything that is not (atob would throw on it). */
function base64UrlToBytes(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const padded = text.replaceAll("-", "+").replaceAll("_", "/");
  return base64ToBytes(padded + "=".repeat((4 - (padded.length % 4)) % 4));
}
