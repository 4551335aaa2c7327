import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { type Config, getConfig } from "../config";
import { bytesToBase64Url, randomBytes } from "../lib/base64";
import { type PortalClaims, verifyPortalToken } from "../lib/portal-token";
import type { ApiCall } from "./api-client";

/**
 * What every portal response carries and every portal request must show: the security headers (a
 * strict Content-Security-Policy, with a nonce for the one theme style element, frames allowed only
 * from PORTAL_FRAME_ANCESTORS), and, past the entrance, a live session cookie; a form post must also
 * carry the session's own CSRF token.
 */
export type PortalEnv = {
  Bindings: Env;
  Variables: { nonce: string; session: PortalClaims; token: string; api: ApiCall };
};

export const SESSION_COOKIE = "portal_session";

export function securityHeaders(): MiddlewareHandler<PortalEnv> {
  return async function securityHeaders(c, next) {
    const nonce = bytesToBase64Url(randomBytes(16));
    c.set("nonce", nonce);
    await next();
    const config = getConfig(c.env);
    c.header("Content-Security-Policy", contentSecurityPolicy(config, nonce, c.get("session")));
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("Cache-Control", "no-store");
    if (config.portal.frameAncestors.length === 0) c.header("X-Frame-Options", "DENY");
  };
}

function contentSecurityPolicy(config: Config, nonce: string, session: PortalClaims | undefined): string {
  const logo = originOf(session?.theme.logoUrl ?? config.portal.logoUrl);
  const frameAncestors = config.portal.frameAncestors.join(" ") || "'none'";
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}'`,
    `img-src 'self' data:${logo ? ` ${logo}` : ""}`,
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    `frame-ancestors ${frameAncestors}`,
  ].join("; ");
}

/** The origin of a logo's URL, or null for none (or for a PORTAL_LOGO_URL that is not a URL). */
function originOf(url: string | null | undefined): string | null {
  if (!url || !URL.canParse(url)) return null;
  return new URL(url).origin;
}

/**
 * Sets the session cookie: HttpOnly and Secure; SameSite=Strict unless the portal may be framed by
 * another site, where a strict cookie would not be sent (then SameSite=None, partitioned per embedding
 * site, and every form carries the CSRF token anyway).
 */
export function startSession(c: Context<PortalEnv>, token: string, session: PortalClaims): void {
  const embedded = getConfig(c.env).portal.frameAncestors.length > 0;
  setCookie(c, SESSION_COOKIE, token, {
    path: "/portal",
    httpOnly: true,
    secure: true,
    sameSite: embedded ? "None" : "Strict",
    ...(embedded ? { partitioned: true } : {}),
    expires: new Date(session.expiresAt * 1000),
  });
}

export function endSession(c: Context<PortalEnv>): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/portal", secure: true });
}

/** The request's live session, or the 401 page. */
export function requireSession(
  unauthorized: (c: Context<PortalEnv>) => Response | Promise<Response>,
): MiddlewareHandler<PortalEnv> {
  return async function requireSession(c, next) {
    const token = getCookie(c, SESSION_COOKIE);
    const session = token ? await verifyPortalToken(c.env, token, Date.now()) : null;
    if (!token || !session) return unauthorized(c);
    c.set("session", session);
    c.set("token", token);
    if (c.req.method === "POST") {
      const form = await c.req.parseBody();
      if (form._csrf !== csrfToken(session)) return unauthorized(c);
    }
    await next();
  };
}

/**
 * The token a form of this session carries: its session id, which only pages of the session show
 * (the cookie holding it is HttpOnly, and other origins cannot read the pages).
 */
export const csrfToken = (session: PortalClaims) => session.sessionId;
