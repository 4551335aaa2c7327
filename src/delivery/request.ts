import { version } from "../../package.json";
import type { Endpoint } from "../domain/endpoint";
import type { EventContent } from "../domain/event";
import { signConvoy } from "../signing/convoy";
import { PRIVATE_KEY_PREFIX, signStandardWebhooksEd25519 } from "../signing/ed25519";
import { SECRET_PREFIX, signStandardWebhooks } from "../signing/standard-webhooks";
import type { EndpointCredentials } from "./endpoint-credentials";
import { headerNameProblem } from "./header-rules";

/** What one attempt sends: everything is decided here, the consumer only passes it to `fetch`. */
export type SignedRequest = { url: string; headers: Record<string, string>; body: string };

/** What a delivery's envelope says: its event's id and type, and the content it is built from. */
export type Envelope = EventContent & { eventId: string; eventType: string };

export type RequestInput = {
  endpoint: Pick<Endpoint, "url" | "signatureScheme" | "payloadFormat">;
  /** Its secrets that sign now and its custom headers, in clear (endpoint-credentials.ts). */
  credentials: EndpointCredentials;
  content: Envelope;
  deliveryId: string;
  attemptNumber: number;
  replayOf: string | null;
  /** A replay whose data the caller replaced: marked, since the content is not the event's. */
  payloadOverridden: boolean;
  /** A test send (`POST …/test`): caller-chosen type and data, marked so no receiver takes it for an event. */
  test?: boolean;
  /** Unix seconds of this attempt. */
  timestamp: number;
  /** `SIGNATURE_HEADER_PREFIX`, e.g. `case-` for `case-webhook-id`. */
  headerPrefix: string;
  /** This attempt's W3C `traceparent` (lib/trace.ts). */
  traceparent: string;
};

export const USER_AGENT = `edge-webhooks/${version}`;

/**
 * The envelope receivers get (docs/receiving.md#the-request). Slim payloads carry only the ids of the resources the
 * event is about, so no personal data leaves; the receiver calls back for details. They follow Marble's
 * documented slim body, `{content, timestamp, type}` (`timestamp`: the event's time, RFC 3339), beside
 * our own `id` and `occurred_at`.
 */
export function webhookBody(content: Envelope, format: Endpoint["payloadFormat"]): string {
  const envelope = { id: content.eventId, type: content.eventType, occurred_at: content.occurredAt };
  if (format === "slim") {
    const refs = Object.fromEntries(Object.entries(content.resources).map(([name, id]) => [name, { id }]));
    return JSON.stringify({ ...envelope, timestamp: content.occurredAt, content: refs });
  }
  return JSON.stringify({ ...envelope, data: content.data });
}

export async function buildSignedRequest(input: RequestInput): Promise<SignedRequest> {
  const { endpoint, credentials, content, headerPrefix } = input;
  const body = webhookBody(content, endpoint.payloadFormat);
  const headers: Record<string, string> = {};
  // A header stored before a rule existed is left out rather than sent (header-rules.ts).
  for (const [name, value] of Object.entries(credentials.headers)) {
    if (headerNameProblem(name, headerPrefix) === null) headers[name] = value;
  }
  headers["content-type"] = "application/json";
  headers["user-agent"] = USER_AGENT;
  headers["webhook-delivery-id"] = input.deliveryId;
  headers["webhook-attempt"] = String(input.attemptNumber);
  headers.traceparent = input.traceparent;
  // Both are signed with the endpoint's real secret, with content the caller chose (docs/security.md).
  if (input.replayOf) headers["webhook-replay-of"] = input.replayOf;
  if (input.payloadOverridden) headers["webhook-payload-override"] = "true";
  if (input.test) headers["webhook-test"] = "true";

  // HMAC secrets and Ed25519 keys are told apart by their prefixes; both sign while an endpoint
  // changes algorithm, each kind its own entries (`v1`, `v1a`). Convoy has HMAC entries only.
  const hmacSecrets = credentials.secrets.filter((s) => s.startsWith(SECRET_PREFIX));
  const ed25519Keys = credentials.secrets.filter((s) => s.startsWith(PRIVATE_KEY_PREFIX));
  if (endpoint.signatureScheme === "convoy") {
    headers["webhooks-signature"] = await signConvoy(hmacSecrets, input.timestamp, body);
    headers["x-convoy-idempotency-key"] = content.eventId;
  } else {
    const id = content.eventId;
    const entries = await Promise.all([
      hmacSecrets.length > 0 ? signStandardWebhooks(hmacSecrets, id, input.timestamp, body) : "",
      ed25519Keys.length > 0 ? signStandardWebhooksEd25519(ed25519Keys, id, input.timestamp, body) : "",
    ]);
    headers[`${headerPrefix}webhook-id`] = id;
    headers[`${headerPrefix}webhook-timestamp`] = String(input.timestamp);
    headers[`${headerPrefix}webhook-signature`] = entries.filter((e) => e !== "").join(" ");
  }
  return { url: endpoint.url, headers, body };
}
