import type { MiddlewareHandler } from "hono";
import { findActiveApiKey } from "../db/api-keys";
import { bytesToBase64Url, randomBytes } from "../lib/base64";
import { ServiceError } from "../lib/errors";
import { sha256Hex } from "../lib/hash";
import type { OrganizationId } from "../lib/ids";
import { clientAddress, guardAuthentication } from "./auth-failures";
import { throttleAdmin, throttleOrganizationKey } from "./throttle";

/** What authentication establishes for the handlers after it. */
export type AuthVariables = { organizationId: OrganizationId; apiKeyScopes: string[] };
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

/** An organization's API key (`sk_…`): sets the organization every handler after it is scoped to. */
export function apiKeyAuth(): MiddlewareHandler<AppEnv> {
  return async function apiKeyAuth(c, next) {
    const key = await guardAuthentication(
      c.env.AUTH_FAILURE_RATE_LIMITER,
      clientAddress(c.req.raw),
      async () => {
        const token = bearerToken(c.req.header("authorization"));
        const found = token.startsWith(TOKEN_PREFIX)
          ? await findActiveApiKey(c.env.DB, await sha256Hex(token))
          : null;
        if (!found) throw new ServiceError("unauthorized", "Invalid or revoked API key");
        return found;
      },
    );
    await throttleOrganizationKey(c.env.ORG_API_RATE_LIMITER, key.id);
    c.set("organizationId", key.organizationId);
    c.set("apiKeyScopes", key.scopes);
    await next();
  };
}
