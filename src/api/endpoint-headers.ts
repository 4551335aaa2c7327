import { z } from "@hono/zod-openapi";
import { openHeaderValues, sealHeaderValues } from "../delivery/endpoint-credentials";
import { HEADER_NAME_PATTERN, HEADER_VALUE_PATTERN, headerNameProblem } from "../delivery/header-rules";
import type { Endpoint, EndpointToWrite } from "../domain/endpoint";
import type { FieldError } from "../lib/errors";
import { keyRing } from "../lib/secret-box";

/**
 * Custom headers in the API (docs/security.md): values are sealed as they arrive and only ever shown
 * masked, so a PATCH merges (RFC 7396): `{name: value}` sets, `{name: null}` removes, a name not given
 * keeps its value. Names compare case-insensitively.
 */
const headerName = z.string().max(100).regex(HEADER_NAME_PATTERN, "must be a valid header name");
const headerValue = z
  .string()
  .max(1000)
  .regex(
    HEADER_VALUE_PATTERN,
    "must hold visible characters, with spaces and tabs only between them (RFC 9110 field value)",
  );

export const HEADERS_DESCRIPTION = "Sent with every delivery. Stored encrypted; read back with masked values";

export const HeadersIn = z.record(headerName, headerValue).openapi({
  description: HEADERS_DESCRIPTION,
  example: { Authorization: "Bearer 3x4mpl3-t0k3n-abcd" },
});
export const HeadersPatchIn = z.record(headerName, headerValue.nullable()).openapi({
  description: "A merge: a value sets the header, null removes it, a header not named keeps its value",
  example: { Authorization: "Bearer n3w-t0k3n-wxyz", "X-Old": null },
});
export type HeadersPatch = z.infer<typeof HeadersPatchIn>;

/** At most this many custom headers per endpoint. */
const MAX_HEADERS = 20;

const lower = (name: string) => name.toLowerCase();

/** The rules a create (`current` empty) or a PATCH breaks: names set, names given twice, the count. */
export function headerProblems(
  current: Record<string, string>,
  patch: HeadersPatch | undefined,
  headerPrefix: string,
): FieldError[] {
  const errors: FieldError[] = [];
  const given = new Set<string>();
  for (const [name, value] of Object.entries(patch ?? {})) {
    const problem = value === null ? null : headerNameProblem(name, headerPrefix);
    if (problem) errors.push({ path: `headers.${name}`, message: problem });
    else if (given.has(lower(name)))
      errors.push({ path: `headers.${name}`, message: "is given twice (names are case-insensitive)" });
    given.add(lower(name));
  }
  const kept = Object.keys(current).filter((name) => !given.has(lower(name)));
  const set = Object.values(patch ?? {}).filter((value) => value !== null);
  if (kept.length + set.length > MAX_HEADERS)
    errors.push({ path: "headers", message: `at most ${MAX_HEADERS} custom headers` });
  return errors;
}

/**
 * The endpoint's headers after `patch`, sealed. Stored values are opened only when some are kept (so
 * values no key opens any more can still all be replaced), and values left in clear before
 * migration 0002 are sealed now. Throws UnreadableSecretError (lib/secret-box.ts) if kept values
 * cannot be opened.
 */
export async function mergeHeaders(
  env: Env,
  current: Pick<Endpoint, "id" | "maskedHeaders" | "headerValues">,
  patch: HeadersPatch | undefined,
): Promise<Pick<EndpointToWrite, "maskedHeaders" | "headerValues">> {
  if (!patch && current.headerValues.state !== "clear")
    return { maskedHeaders: current.maskedHeaders, headerValues: current.headerValues };
  const given = new Set(Object.keys(patch ?? {}).map(lower));
  const keepsAny = Object.keys(current.maskedHeaders).some((name) => !given.has(lower(name)));
  const ring = await keyRing(env);
  const stored = keepsAny ? await openHeaderValues(ring, current) : {};
  const next = Object.fromEntries(Object.entries(stored).filter(([name]) => !given.has(lower(name))));
  for (const [name, value] of Object.entries(patch ?? {})) if (value !== null) next[name] = value;
  return sealHeaderValues(ring, current.id, next);
}
