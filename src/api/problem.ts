import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { type FieldError, ServiceError } from "../lib/errors";
import { UnreadableSecretError } from "../lib/secret-box";

/**
 * RFC 9457 problem details: every error the API returns has this shape and content type. Thrown
 * errors are rendered here, once; anything unexpected is logged and becomes a bare 500.
 */
export type Problem = { type: string; title: string; status: number; detail?: string; errors?: FieldError[] };

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
};

export function problemResponse(
  status: ContentfulStatusCode,
  detail?: string,
  errors?: FieldError[],
  headers: Record<string, string> = {},
): Response {
  const title = TITLES[status] ?? "Error";
  const problem: Problem = {
    type: `https://edge-webhooks.dev/problems/${title.toLowerCase().replaceAll(" ", "-")}`,
    title,
    status,
    ...(detail ? { detail } : {}),
    ...(errors?.length ? { errors } : {}),
  };
  return new Response(JSON.stringify(problem), {
    status,
    headers: { ...headers, "content-type": "application/problem+json" },
  });
}

/** Zod issues as `{ path, message }`, paths dotted (`headers.x-tenant`, `eventTypeFilters.0`). */
export function fieldErrors(error: ZodError, prefix: readonly string[] = []): FieldError[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path.map(String)].join(".") || "(body)",
    message: issue.message,
  }));
}

export function onError(error: Error, c: Context): Response {
  if (error instanceof ServiceError) {
    const headers: Record<string, string> = {};
    if (error.status === 401) headers["www-authenticate"] = "Bearer";
    if (error.retryAfterSeconds !== undefined) headers["retry-after"] = String(error.retryAfterSeconds);
    return problemResponse(error.status, error.message, error.errors, headers);
  }
  if (error instanceof UnreadableSecretError) return unreadableSecretProblem(error);
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    return problemResponse(status, error.message || TITLES[status]);
  }
  console.error(
    JSON.stringify({
      message: "unhandled error",
      path: c.req.path,
      error: String(error),
      stack: error.stack,
    }),
  );
  return problemResponse(500, "An unexpected error occurred");
}

/**
 * A secret of the endpoint no configured key opens (a key removed too early in a rotation, see
 * docs/security.md): a conflict the customer can resolve by replacing what cannot be read.
 */
function unreadableSecretProblem(error: UnreadableSecretError): Response {
  const remedy = error.context.endsWith(":headers")
    ? "set or remove every custom header in one PATCH"
    : "rotate the signing secret with previousSecretExpiresInSec: 0";
  console.error(JSON.stringify({ message: "unreadable secret", error: error.message }));
  return problemResponse(409, `${error.message}. To replace it, ${remedy}.`);
}

export const notFoundRoute = (c: Context) =>
  problemResponse(404, `No route for ${c.req.method} ${c.req.path}`);
