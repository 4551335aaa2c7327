import type { SignedRequest } from "./request";

/** What one HTTP attempt came to, before any decision about retrying. */
export type AttemptResult = {
  startedAt: string;
  durationMs: number;
  /** Absent when no response arrived (timeout, connection or TLS failure). */
  statusCode?: number;
  /**
   * Set when the request could not even be made: the runtime refused one of its headers (a value
   * stored before the header rules, see header-rules.ts). Nothing was sent, so it says nothing about
   * the endpoint, and sending it again would fail the same way.
   */
  invalidRequest?: true;
  /** `timeout`, `network: <message>` or `invalid_request: <what>`, when no response arrived. */
  error?: string;
  responseBody?: string;
  /** From a `Retry-After` header, in seconds from now. */
  retryAfterSeconds?: number;
};

/** An endpoint's own `timeoutMs` may lower the service-wide timeout, never raise it. */
export function attemptTimeoutMs(endpointTimeoutMs: number | null, serviceTimeoutMs: number): number {
  return Math.min(endpointTimeoutMs ?? serviceTimeoutMs, serviceTimeoutMs);
}

/**
 * Response bodies kept in attempts are cut to this many bytes: enough for a receiver's error message,
 * and a delivery row stays small whatever the receiver answers (docs/scale.md#thin-rows).
 */
export const MAX_RESPONSE_BODY_BYTES = 1024;

/** POSTs once, never following redirects (a 3xx is the receiver's answer), within `timeoutMs`. */
export async function sendSignedRequest(request: SignedRequest, timeoutMs: number): Promise<AttemptResult> {
  const startedAt = new Date();
  // Built before `fetch`, so a request the runtime refuses is told apart from a network failure.
  const headers = runtimeHeaders(request.headers);
  if (!(headers instanceof Headers))
    return {
      startedAt: startedAt.toISOString(),
      durationMs: 0,
      invalidRequest: true,
      error: headers.refused,
    };
  const signal = AbortSignal.timeout(timeoutMs);
  const elapsed = () => Date.now() - startedAt.getTime();
  try {
    const response = await fetch(request.url, {
      method: "POST",
      headers,
      body: request.body,
      redirect: "manual",
      signal,
    });
    const responseBody = await readCapped(response, signal);
    const retryAfterSeconds = parseRetryAfter(response.headers.get("retry-after"), Date.now());
    return {
      startedAt: startedAt.toISOString(),
      durationMs: elapsed(),
      statusCode: response.status,
      responseBody,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    };
  } catch (error) {
    const timedOut = signal.aborted;
    return {
      startedAt: startedAt.toISOString(),
      durationMs: elapsed(),
      error: timedOut ? "timeout" : `network: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** The request's headers as the runtime takes them, or which one it refuses (never its value: a secret). */
function runtimeHeaders(fields: Record<string, string>): Headers | { refused: string } {
  const headers = new Headers();
  for (const [name, value] of Object.entries(fields)) {
    try {
      headers.set(name, value);
    } catch {
      return { refused: `invalid_request: header "${name}" has a value the runtime refuses` };
    }
  }
  return headers;
}

/** Reads at most MAX_RESPONSE_BODY_BYTES and drops the rest, so a huge answer costs nothing. */
async function readCapped(response: Response, signal: AbortSignal): Promise<string> {
  if (!response.body) return "";
  // Most receivers answer with an empty body and say so: nothing to read.
  if (response.headers.get("content-length") === "0") {
    response.body.cancel().catch(() => {});
    return "";
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_RESPONSE_BODY_BYTES && !signal.aborted) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // The status already arrived; a body cut short by the timeout or the peer is still a response.
  } finally {
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes.subarray(0, MAX_RESPONSE_BODY_BYTES));
}

/** `Retry-After` as seconds from `now`: either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}
