import type { MiddlewareHandler } from "hono";
import { ALL_SCOPES } from "../catalog/filters";
import { type ApiKey, findActiveApiKey } from "../db/api-keys";
import { bytesToBase64Url, randomBytes } from "../lib/base64";
import { ServiceError } from "../lib/errors";
import { sha256Hex } from "../lib/hash";
import type { OrganizationId } from "../lib/ids";
import { PORTAL_TOKEN_PREFIX, type PortalClaims, verifyPortalToken } from "../lib/portal-token";
import { clientAddress, guardAuthentication } from "./auth-failures";
import { throttleAdmin, throttleOrganizationKey } from "./throttle";

/** What authentication establishes for the handlers after it. */
export type AuthVariables = {
  organizationId: OrganizationId;
  apiKeyScopes: string[];
  /** Set when the credential is a customer portal session's token (lib/portal-token.ts). */
  portalSession?: PortalClaims;
};
export type AppEnv = { Bindings: Env; Variables: AuthVariables };

const TOKEN_PREFIX = "sk_";

/** A new API token (`sk_` + 32 random bytes) and the hash under which it is stored. */
export async function newApiToken(): Promise<{ token: string; hash: string }> {
  const token = TOKEN_PREFIX + bytesToBase64Url(randomBytes(32));
  return { token, hash: await sha256Hex(token) };
}

function bearerToken(header: string | undefined): string {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  if (!match?.[1])
    throw new ServiceError("unauthorized", "Missing bearer token: send Authorization: Bearer <token>");
  return match[1];
}

const encoder = new TextEncoder();

/** The expected token's bytes, encoded once per isolate (the token only changes with a new deployment). */
let expectedBytes: { token: string; bytes: Uint8Array } | undefined;

/**
 * Takes the same time whatever the given token's content; only a token of another length is told
 * apart sooner, and the length of a random token says nothing of its value.
 */
function sameToken(given: string, expected: string): boolean {
  if (expectedBytes?.token !== expected) expectedBytes = { token: expected, bytes: encoder.encode(expected) };
  const givenBytes = encoder.encode(given);
  return (
    givenBytes.byteLength === expectedBytes.bytes.byteLength &&
    crypto.subtle.timingSafeEqual(givenBytes, expectedBytes.bytes)
  );
}

/**
 * The operator's token (`ADMIN_TOKEN`): /admin and publishing. Organization keys are refused. Here and
 * in apiKeyAuth, refusals count against the client's address (auth-failures.ts).
 */
export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async function adminAuth(c, next) {
    await guardAuthentication(c.env.AUTH_FAILURE_RATE_LIMITER, clientAddress(c.req.raw), async () => {
      const token = bearerToken(c.req.header("authorization"));
      if (!c.env.ADMIN_TOKEN || !sameToken(token, c.env.ADMIN_TOKEN)) {
        throw new ServiceError("unauthorized", "Invalid admin token");
      }
    });
    await throttleAdmin(c.env.ADMIN_API_RATE_LIMITER);
    await next();
  };
}

/**
 * An organization's API key (`sk_…`), or a customer portal session's token (`ps_…`, lib/portal-token.ts:
 * the portal's pages call the API with it, with every scope, and a read-only one may only read): sets
 * the organization every handler after it is scoped to.
 */
export function apiKeyAuth(): MiddlewareHandler<AppEnv> {
  return async function apiKeyAuth(c, next) {
    const key = await guardAuthentication(
      c.env.AUTH_FAILURE_RATE_LIMITER,
      clientAddress(c.req.raw),
      async () => {
        const token = bearerToken(c.req.header("authorization"));
        if (token.startsWith(PORTAL_TOKEN_PREFIX)) {
          const session = await verifyPortalToken(c.env, token, Date.now());
          if (!session) throw new ServiceError("unauthorized", "Invalid or expired portal session");
          return portalPrincipal(session);
        }
        const found: Principal | null = token.startsWith(TOKEN_PREFIX)
          ? await findActiveApiKey(c.env.DB, await sha256Hex(token))
          : null;
        if (!found) throw new ServiceError("unauthorized", "Invalid or revoked API key");
        return found;
      },
    );
    await throttleOrganizationKey(c.env.ORG_API_RATE_LIMITER, key.id);
    if (key.portalSession?.readOnly && !["GET", "HEAD"].includes(c.req.method)) {
      throw new ServiceError("forbidden", "This portal session is read-only");
    }
    c.set("organizationId", key.organizationId);
    c.set("apiKeyScopes", key.scopes);
    if (key.portalSession) c.set("portalSession", key.portalSession);
    await next();
  };
}

/** Who a request acts as: an API key, or a portal session standing for one. */
type Principal = Pick<ApiKey, "organizationId" | "scopes"> & {
  /** What its requests are throttled by: the key's id, or the session's. */
  id: string;
  portalSession?: PortalClaims;
};

/** A portal session as the key it stands for: its organization's, with every scope. */
const portalPrincipal = (session: PortalClaims): Principal => ({
  id: `portal:${session.sessionId}`,
  organizationId: session.organizationId,
  scopes: [ALL_SCOPES],
  portalSession: session,
});
