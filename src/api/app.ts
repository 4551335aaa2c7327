import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getConfig } from "../config";
import { ServiceError } from "../lib/errors";
import { ID_PREFIX, type IdKind, type IdOfKind, idPattern } from "../lib/ids";
import { findJsonViolation } from "../lib/json-limits";
import type { AppEnv } from "./auth";
import { fieldErrors, problemResponse } from "./problem";

/**
 * A sub-app whose zod validation failures become 422 problem+json with field paths (the library's
 * default is a bare 400), so every route module reports bad input the same way.
 */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      // A path that names no object of its kind (`/endpoints/nope`) is a missing object, not bad input.
      if (result.target === "param") throw new ServiceError("not_found", "No such object");
      const prefix = result.target === "json" ? [] : [result.target];
      throw new ServiceError("validation", "The request is not valid", fieldErrors(result.error, prefix));
    },
  });
}

/**
 * Bodies over `MAX_PAYLOAD_BYTES` get 413 as soon as the declared or streamed size passes the limit,
 * without being read whole; a body that is not JSON gets 415 before any validator sees it; a JSON body
 * that breaks the rules of lib/json-limits.ts (nesting past `MAX_JSON_DEPTH`, among others) gets 422
 * before any other code reads it. Every route's body comes through here, so every door has the bounds.
 */
export function jsonBodyOnly(): MiddlewareHandler<AppEnv> {
  return async function jsonBodyOnly(c, next) {
    const hasBody = c.req.header("content-length") !== undefined && c.req.header("content-length") !== "0";
    const chunked = c.req.header("transfer-encoding") !== undefined;
    if (!hasBody && !chunked) return next();
    const mediaType = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (mediaType !== "application/json") {
      return problemResponse(415, "Send the body as application/json");
    }
    const config = getConfig(c.env);
    const limit = bodyLimit({
      maxSize: config.maxPayloadBytes,
      onError: () => problemResponse(413, `The body is larger than ${config.maxPayloadBytes} bytes`),
    });
    return limit(c, async () => {
      checkJsonLimits(await c.req.json().catch(() => undefined), config.maxJsonDepth);
      await next();
    });
  };
}

/**
 * Throws 422 naming the rule and the field when `value` is not a JSON document the service accepts
 * (undefined, a body that does not parse, is left to the route's validator to refuse).
 */
export function checkJsonLimits(value: unknown, maxDepth: number): void {
  const violation = value === undefined ? null : findJsonViolation(value, { maxDepth });
  if (violation) {
    const { path, message } = violation;
    const named = violation.rule === "depth" ? `${message} (MAX_JSON_DEPTH)` : message;
    throw new ServiceError("validation", `${path} ${named}`, [{ path, message: named }]);
  }
}

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

export const problemContent = { "application/problem+json": { schema: ProblemSchema } } as const;

/** `Retry-After` on every 429: api/problem.ts sends the ServiceError's `retryAfterSeconds`. */
const retryAfter = {
  "Retry-After": {
    description: "Seconds to wait before trying again",
    schema: { type: "integer", minimum: 1 },
  },
} as const;

const throttledResponse = (description: string) =>
  ({
    429: { description: `${description}; see Retry-After`, headers: retryAfter, content: problemContent },
  }) as const;

/**
 * What every route can answer: each is behind a credential (api/auth.ts), refused with 401, and
 * throttled with 429: organization keys and the admin token per credential (api/throttle.ts), refused
 * credentials per client address (api/auth-failures.ts). A route lists one of these three sets, the
 * one that matches what it takes (test/integration/api/openapi.test.ts checks the choice).
 */
export const authResponses = {
  401: {
    description: "Missing, unknown or revoked token",
    headers: { "WWW-Authenticate": { description: "`Bearer`", schema: { type: "string" } } },
    content: problemContent,
  },
  ...throttledResponse("Too many requests with this credential, or refused credentials from this address"),
} as const;

/** …and, for a route with path, query or header parameters, 422 naming the fields (createRouter). */
export const inputResponses = {
  ...authResponses,
  422: { description: "Invalid input", content: problemContent },
} as const;

/** What a public route (no credential: an endpoint's JWKS) can answer: throttled per client address. */
export const publicResponses = {
  ...throttledResponse("Too many requests from this address"),
  422: { description: "Invalid input", content: problemContent },
} as const;

/** …and, for a route that takes a JSON body, the bounds jsonBodyOnly enforces before any validator. */
export const bodyResponses = {
  ...inputResponses,
  413: { description: "Body larger than MAX_PAYLOAD_BYTES", content: problemContent },
  415: { description: "Body is not application/json", content: problemContent },
} as const;

/** Routes that change an endpoint or act for it: the key's scopes must cover its subscription (api/access.ts). */
export const forbiddenResponse = {
  403: {
    description: "The API key's scopes do not cover the endpoint's subscription",
    content: problemContent,
  },
} as const;

const conflictResponse = (...reasons: string[]) =>
  ({ 409: { description: reasons.join("; or "), content: problemContent } }) as const;

const CAP_REACHED = "At MAX_ENDPOINTS_PER_ORGANIZATION live endpoints, or MAX_ENDPOINTS_PER_URL for this URL";
const UNREADABLE_SECRET =
  "A secret of the endpoint that no configured SECRETS_KEY opens; the detail says how to replace it (docs/security.md)";

/** Creating an endpoint past a cap on live endpoints (api/endpoint-caps.ts). */
export const capResponse = conflictResponse(CAP_REACHED);

/** Changing an endpoint: a new URL past its cap, or header values kept that no key opens (api/endpoint-headers.ts). */
export const capOrUnreadableResponse = conflictResponse(CAP_REACHED, UNREADABLE_SECRET);

/** Acting with the endpoint's signing secret (api/problem.ts renders UnreadableSecretError). */
export const unreadableSecretResponse = conflictResponse(UNREADABLE_SECRET);

/** Replay and recover: each delivery replayed takes a permit of the endpoint's quota (api/replay-quota.ts). */
export const quotaResponse = throttledResponse(
  "The endpoint's replay quota (REPLAYS_PER_ENDPOINT_PER_HOUR) is spent, or the credential or address is throttled",
);

export const notFoundResponse = {
  404: { description: "No such object in this organization", content: problemContent },
} as const;

/**
 * An id of `kind` (`evt_…`, `dlv_…`), as the service makes them, branded from here on (lib/ids.ts):
 * the one place a client's string becomes an id the rest of the code may pass where that kind is
 * expected. Anything else is refused (422 in a body or query, 404 in a path).
 */
export const idOf = <K extends IdKind>(kind: K) =>
  z
    .string()
    .regex(idPattern(kind), `must be an id of the form ${ID_PREFIX[kind]}<ULID>`)
    .transform((id) => id as IdOfKind<K>);

/** Every list's paging: `limit`, and a `cursor` that is an id of the kind the list holds. */
export const pageQuerySchema = (kind: IdKind) =>
  z.object({
    limit: z.coerce.number().int().min(1).max(100).default(50).openapi({ description: "1..100, default 50" }),
    cursor: idOf(kind).optional().openapi({ description: "`nextCursor` of the previous page" }),
  });

/** `{ data, nextCursor }`: every list's shape. */
export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({ data: z.array(item), nextCursor: z.string().nullable() }).openapi(name);
}

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** An instant in ISO 8601 with any offset, normalised to UTC (`…Z`) so it compares with stored times. */
export const IsoInstant = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value).toISOString());

/**
 * An optional body field that the handler fills in with `value` when it is left out. The value is
 * stated in the description rather than as JSON Schema `default`: openapi-typescript, with its default
 * settings, makes a property that has a `default` required in a named schema, so a client generated
 * from the document could not leave the field out. The handler applies the same `value`.
 */
export const defaultsTo = <T extends z.ZodType>(schema: T, value: z.output<T>, description?: string) =>
  schema.optional().openapi({
    description: [description, `Default: \`${JSON.stringify(value)}\``].filter(Boolean).join(". "),
  });

/** A body the route may also be called without (then `c.req.valid("json")` is undefined). */
export const optionalJsonBody = <T extends z.ZodType>(schema: T) => ({
  required: false,
  content: { "application/json": { schema } },
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});

/** The `{id}` path parameter of an object route: an id of the object's kind. */
export const idParam = <K extends IdKind>(kind: K) =>
  z.object({ id: idOf(kind).openapi({ param: { name: "id", in: "path" } }) });
