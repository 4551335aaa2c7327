/**
 * Typed view of the `[vars]` in wrangler.toml (docs/operations.md#configuration). Parsed once per isolate and per
 * distinct env object, so tests and `wrangler dev --var` overrides take effect.
 */
export type Config = {
  /** Background retry delays, in seconds, one per queue retry. */
  retryScheduleSeconds: readonly number[];
  /** Delays between the inline attempts made inside one consumer run. */
  inlineRetryDelaysMs: readonly number[];
  deliveryTimeoutMs: number;
  autoDisableAfterSeconds: number;
  autoDisableMinFailures: number;
  /** A 410 Gone answer disables the endpoint at once (health/policy.ts). */
  disableOnGone: boolean;
  /** The share of the auto-disable thresholds at which `webhook.endpoint.failing` is sent; 0, never. */
  failingWarningFraction: number;
  allowInsecureUrls: boolean;
  signatureHeaderPrefix: string;
  maxPayloadBytes: number;
  /** An attempt this long (or timed out) puts its endpoint in the slow lane (delivery/lanes.ts). */
  slowAttemptMs: number;
  /**
   * Events matching at most this many endpoints get their first attempts from the publish's own
   * invocation (delivery/direct.ts); 0: every event goes through the queue.
   */
  directFanOutMax: number;
  /** Event data above this many bytes (of JSON text) is kept in R2, not in its row (db/payloads.ts). */
  payloadInR2Bytes: number;
  retentionDays: number;
  /** How deep a JSON body may nest (objects and arrays); beyond it a request is refused. */
  maxJsonDepth: number;
  /** Ports an endpoint URL may name (443 alone by default), unless insecure URLs are allowed. */
  allowedPorts: readonly number[];
  maxEndpointsPerOrganization: number;
  maxEndpointsPerUrl: number;
  /** Deliveries an endpoint may have replayed, by `replay` and `recover` together, per hour. */
  replaysPerEndpointPerHour: number;
  /** How new organizations are spread over the shards (db/shards.ts): one weight per shard. */
  shardWeights: readonly number[];
  /** The customer portal's embedding origins and default look (portal/). */
  portal: {
    frameAncestors: readonly string[];
    accentColor: string;
    logoUrl: string | null;
    theme: "light" | "dark" | "auto";
  };
};

/** The largest delay Cloudflare Queues accepts for `retry({ delaySeconds })`. */
export const QUEUE_MAX_DELAY_SECONDS = 86_400;

const cache = new WeakMap<object, Config>();

export function getConfig(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    config = parseConfig(env);
    cache.set(env, config);
  }
  return config;
}

function parseConfig(env: Env): Config {
  return {
    retryScheduleSeconds: numberList("RETRY_SCHEDULE_SECONDS", env.RETRY_SCHEDULE_SECONDS).map((s) =>
      Math.min(s, QUEUE_MAX_DELAY_SECONDS),
    ),
    inlineRetryDelaysMs: numberList("INLINE_RETRY_DELAYS_MS", env.INLINE_RETRY_DELAYS_MS),
    deliveryTimeoutMs: positiveInt("DELIVERY_TIMEOUT_MS", env.DELIVERY_TIMEOUT_MS),
    autoDisableAfterSeconds: positiveInt("AUTO_DISABLE_AFTER_SECONDS", env.AUTO_DISABLE_AFTER_SECONDS),
    autoDisableMinFailures: positiveInt("AUTO_DISABLE_MIN_FAILURES", env.AUTO_DISABLE_MIN_FAILURES),
    disableOnGone: env.DISABLE_ON_GONE !== "false",
    failingWarningFraction: fraction("FAILING_WARNING_FRACTION", env.FAILING_WARNING_FRACTION),
    allowInsecureUrls: env.ALLOW_INSECURE_URLS === "true",
    signatureHeaderPrefix: env.SIGNATURE_HEADER_PREFIX ?? "",
    maxPayloadBytes: positiveInt("MAX_PAYLOAD_BYTES", env.MAX_PAYLOAD_BYTES),
    payloadInR2Bytes: positiveInt("PAYLOAD_IN_R2_BYTES", env.PAYLOAD_IN_R2_BYTES),
    slowAttemptMs: positiveInt("SLOW_ATTEMPT_MS", env.SLOW_ATTEMPT_MS),
    directFanOutMax: nonNegativeInt("DIRECT_FAN_OUT_MAX", env.DIRECT_FAN_OUT_MAX),
    retentionDays: positiveInt("RETENTION_DAYS", env.RETENTION_DAYS),
    maxJsonDepth: positiveInt("MAX_JSON_DEPTH", env.MAX_JSON_DEPTH),
    allowedPorts: numberList("ALLOWED_PORTS", env.ALLOWED_PORTS),
    maxEndpointsPerOrganization: positiveInt(
      "MAX_ENDPOINTS_PER_ORGANIZATION",
      env.MAX_ENDPOINTS_PER_ORGANIZATION,
    ),
    maxEndpointsPerUrl: positiveInt("MAX_ENDPOINTS_PER_URL", env.MAX_ENDPOINTS_PER_URL),
    replaysPerEndpointPerHour: positiveInt(
      "REPLAYS_PER_ENDPOINT_PER_HOUR",
      env.REPLAYS_PER_ENDPOINT_PER_HOUR,
    ),
    shardWeights: numberList("SHARD_WEIGHTS", env.SHARD_WEIGHTS),
    portal: {
      frameAncestors: (env.PORTAL_FRAME_ANCESTORS ?? "").split(/\s+/).filter((origin) => origin !== ""),
      accentColor: oneOf("PORTAL_ACCENT_COLOR", env.PORTAL_ACCENT_COLOR, /^#[0-9a-fA-F]{6}$/),
      logoUrl: env.PORTAL_LOGO_URL?.trim() || null,
      theme: oneOf("PORTAL_THEME", env.PORTAL_THEME, /^(light|dark|auto)$/) as "light" | "dark" | "auto",
    },
  };
}

function oneOf(name: string, value: string | undefined, pattern: RegExp): string {
  if (!value || !pattern.test(value)) throw new Error(`${name} must match ${pattern}, got "${value}"`);
  return value;
}

function numberList(name: string, value: string | undefined): number[] {
  if (!value?.trim()) return [];
  return value.split(",").map((part) => nonNegativeInt(name, part.trim()));
}

function positiveInt(name: string, value: string | undefined): number {
  const n = nonNegativeInt(name, value ?? "");
  if (n === 0) throw new Error(`${name} must be a positive integer`);
  return n;
}

/** A share from 0 to below 1, as `0.5`. */
function fraction(name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !/^(0|0?\.\d+)$/.test(value) || n >= 1) {
    throw new Error(`${name} must be a fraction from 0 to below 1, got "${value}"`);
  }
  return n;
}

// A misconfigured var should stop the Worker loudly, not silently fall back to a default.
function nonNegativeInt(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`${name} must hold non-negative integers, got "${value}"`);
  return Number(value);
}
