/**
 * What an endpoint's custom headers may be (docs/security.md): RFC 9110 field syntax, and no name the
 * service sets itself or that speaks for the connection or a proxy. The one place these rules live:
 * the API refuses such headers (422), and a request is built without any refused name an endpoint
 * stored before a rule existed may still hold.
 */

/** RFC 9110 §5.1: a field name is a token. */
export const HEADER_NAME_PATTERN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * RFC 9110 §5.5: a field value is VCHAR and obs-text, with spaces and tabs only between them. obs-text
 * is the bytes 0x80–0xFF, which are U+0080–U+00FF in a string: the characters a `Headers` value holds.
 */
export const HEADER_VALUE_PATTERN = /^(?:[!-~\u0080-\u00ff](?:[\t -~\u0080-\u00ff]*[!-~\u0080-\u00ff])?)?$/;

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1), proxy fields (`Proxy-*`, `Forwarded` of RFC 7239, the de facto
 * `X-Forwarded-*`), Cloudflare's own `CF-*`, and `Cookie`: they describe a connection, a route or a
 * session, not a delivery, and a receiver's proxy may act on them.
 */
const REFUSED_NAMES = new Set(["upgrade", "te", "keep-alive", "trailer", "expect", "forwarded", "cookie"]);
const REFUSED_PREFIXES = ["proxy-", "x-forwarded-", "cf-"];

/** Why a custom header may not have this name, or null if it may. Names compare case-insensitively. */
export function headerNameProblem(name: string, headerPrefix: string): string | null {
  const lower = name.toLowerCase();
  if (reservedHeaderNames(headerPrefix).has(lower)) return "is set by the service";
  if (REFUSED_NAMES.has(lower) || REFUSED_PREFIXES.some((prefix) => lower.startsWith(prefix)))
    return "is a hop-by-hop, proxy or cookie header, which the service does not send";
  return null;
}

/** The set for the last prefix asked: there is one per deployment, and every attempt asks. */
let reserved: { headerPrefix: string; names: ReadonlySet<string> } | undefined;

/** Header names the service sets itself (lower case). */
function reservedHeaderNames(headerPrefix: string): ReadonlySet<string> {
  if (reserved?.headerPrefix !== headerPrefix) reserved = { headerPrefix, names: reservedSet(headerPrefix) };
  return reserved.names;
}

function reservedSet(headerPrefix: string): ReadonlySet<string> {
  return new Set([
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "connection",
    "transfer-encoding",
    ...["webhook-id", "webhook-timestamp", "webhook-signature"].flatMap((name) => [
      name,
      headerPrefix + name,
    ]),
    "webhooks-signature",
    "x-convoy-idempotency-key",
    "webhook-delivery-id",
    "webhook-attempt",
    "webhook-replay-of",
    "webhook-payload-override",
    "webhook-test",
  ]);
}
