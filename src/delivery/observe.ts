import type { Endpoint } from "../domain/endpoint";
import { type AttemptVerdict, classifyAttempt, type FinalStep } from "./retry-policy";
import type { AttemptResult } from "./send";

/** What an attempt was about, for the log line; never secrets, never payloads. */
export type AttemptContext = {
  endpoint: Pick<Endpoint, "id" | "organizationId">;
  deliveryId: string;
  eventId: string;
  eventType: string;
  attempt: number;
  /** The attempt's W3C trace and span (attempt.ts), so a log line or a data point leads to the trace. */
  traceId: string;
  spanId: string;
};

/** A delivery whose attempt succeeded in this run, for the run's summary line. */
export type DeliveredAttempt = Pick<AttemptContext, "deliveryId" | "eventId" | "attempt" | "traceId"> & {
  statusCode: number;
  durationMs: number;
};

/**
 * What became of an attempt, as logged: its verdict, except that a retryable attempt after which the
 * delivery failed (its retry schedule spent) is `exhausted`, so a failed delivery's last line says so.
 */
export type LoggedOutcome = AttemptVerdict | "exhausted";

function loggedOutcome(verdict: AttemptVerdict, final: FinalStep | null): LoggedOutcome {
  return verdict === "retryable" && final?.kind === "failed" ? "exhausted" : verdict;
}

/** `invalid_request`, `timeout`, `network`, `http_4xx`, `http_5xx`, `redirect`, or null for a success. */
export function errorClass(result: AttemptResult, verdict: AttemptVerdict): string | null {
  if (verdict === "delivered") return null;
  if (result.invalidRequest) return "invalid_request";
  if (result.statusCode === undefined) return result.error === "timeout" ? "timeout" : "network";
  if (result.statusCode >= 300 && result.statusCode < 400) return "redirect";
  return result.statusCode >= 500 ? "http_5xx" : "http_4xx";
}

/**
 * Makes an attempt observable once what follows it is decided: `final`, what the delivery came to in
 * this run when the attempt was the run's last, null when an inline retry followed. One Analytics
 * Engine data point (blobs: organization, endpoint, event type, LoggedOutcome, error class, trace id; doubles:
 * duration ms, status code, attempt number, 1 if delivered; index: endpoint, so per-endpoint queries
 * sample well) and, for an attempt that did not deliver, its own structured line for Workers Logs.
 * Successes are logged together per run (logDelivered): a line is a billed log event, and the
 * failures are what an operator looks for.
 */
export function observeAttempt(
  analytics: AnalyticsEngineDataset,
  context: AttemptContext,
  result: AttemptResult,
  final: FinalStep | null,
): void {
  const verdict = classifyAttempt(result);
  const outcome = loggedOutcome(verdict, final);
  const error = errorClass(result, verdict);
  analytics.writeDataPoint({
    indexes: [context.endpoint.id],
    blobs: [
      context.endpoint.organizationId,
      context.endpoint.id,
      context.eventType,
      outcome,
      error ?? "",
      context.traceId,
    ],
    doubles: [result.durationMs, result.statusCode ?? 0, context.attempt, verdict === "delivered" ? 1 : 0],
  });
  if (verdict === "delivered") return;
  console.log(
    JSON.stringify({
      message: "delivery attempt",
      eventId: context.eventId,
      deliveryId: context.deliveryId,
      endpointId: context.endpoint.id,
      organizationId: context.endpoint.organizationId,
      eventType: context.eventType,
      attempt: context.attempt,
      traceId: context.traceId,
      spanId: context.spanId,
      statusCode: result.statusCode ?? null,
      durationMs: result.durationMs,
      outcome,
      errorClass: error,
    }),
  );
}

/** One line for every delivery to `endpoint` that succeeded in this run, so each id is still searchable. */
export function logDelivered(
  endpoint: Pick<Endpoint, "id" | "organizationId">,
  delivered: readonly DeliveredAttempt[],
): void {
  if (delivered.length === 0) return;
  console.log(
    JSON.stringify({
      message: "deliveries delivered",
      endpointId: endpoint.id,
      organizationId: endpoint.organizationId,
      count: delivered.length,
      deliveries: delivered,
    }),
  );
}
