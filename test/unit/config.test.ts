import { describe, expect, it } from "vitest";
import { getConfig, QUEUE_MAX_DELAY_SECONDS } from "../../src/config";
import { nextStep } from "../../src/delivery/retry-policy";

/** The vars of wrangler.toml, as the Worker receives them. */
const vars = {
  RETRY_SCHEDULE_SECONDS: "5,300,1800,7200,18000,36000,36000",
  INLINE_RETRY_DELAYS_MS: "200,1000",
  DELIVERY_TIMEOUT_MS: "15000",
  SLOW_ATTEMPT_MS: "5000",
  DIRECT_FAN_OUT_MAX: "5",
  AUTO_DISABLE_AFTER_SECONDS: "432000",
  AUTO_DISABLE_MIN_FAILURES: "10",
  DISABLE_ON_GONE: "true",
  FAILING_WARNING_FRACTION: "0.5",
  ALLOW_INSECURE_URLS: "false",
  SIGNATURE_HEADER_PREFIX: "",
  MAX_PAYLOAD_BYTES: "262144",
  PAYLOAD_IN_R2_BYTES: "8192",
  RETENTION_DAYS: "30",
  MAX_JSON_DEPTH: "32",
  ALLOWED_PORTS: "443",
  MAX_ENDPOINTS_PER_ORGANIZATION: "2000",
  MAX_ENDPOINTS_PER_URL: "10",
  REPLAYS_PER_ENDPOINT_PER_HOUR: "1000",
  SHARD_WEIGHTS: "1,1,1",
  PORTAL_FRAME_ANCESTORS: "",
  PORTAL_ACCENT_COLOR: "#2563eb",
  PORTAL_LOGO_URL: "",
  PORTAL_THEME: "auto",
};
const configOf = (overrides: Record<string, string>) =>
  getConfig({ ...vars, ...overrides } as unknown as Env);

describe("configuration", () => {
  it("caps each retry step at a day, the longest delay Cloudflare Queues accepts", () => {
    expect(QUEUE_MAX_DELAY_SECONDS).toBe(86_400);
    const config = configOf({ RETRY_SCHEDULE_SECONDS: "5,86400,86401,604800" });
    expect(config.retryScheduleSeconds).toEqual([5, 86_400, 86_400, 86_400]);
    // So a receiver's Retry-After, bounded by the longest step, cannot ask for more either.
    const week = {
      startedAt: new Date(0).toISOString(),
      durationMs: 5,
      statusCode: 429,
      retryAfterSeconds: 604_800,
    };
    expect(nextStep(week, { attemptsThisRun: 3, queueRetriesSpent: 0 }, config)).toEqual({
      kind: "retry_queue",
      delaySeconds: 86_400,
    });
  });

  it("stops loudly on a var that is not a list of whole numbers", () => {
    expect(() => configOf({ RETRY_SCHEDULE_SECONDS: "5,soon" })).toThrow(/RETRY_SCHEDULE_SECONDS/);
    expect(() => configOf({ DELIVERY_TIMEOUT_MS: "0" })).toThrow(/DELIVERY_TIMEOUT_MS/);
  });

  it("reads the failing warning's share of the thresholds, 0 for none, and refuses anything else", () => {
    expect(configOf({}).failingWarningFraction).toBe(0.5);
    expect(configOf({ FAILING_WARNING_FRACTION: "0" }).failingWarningFraction).toBe(0);
    expect(configOf({ FAILING_WARNING_FRACTION: ".25" }).failingWarningFraction).toBe(0.25);
    for (const wrong of ["1", "1.5", "-0.5", "half", ""]) {
      expect(() => configOf({ FAILING_WARNING_FRACTION: wrong })).toThrow(/FAILING_WARNING_FRACTION/);
    }
  });

  it("reads the portal's embedding origins and look, and refuses a colour or theme it cannot use", () => {
    const config = configOf({
      PORTAL_FRAME_ANCESTORS: " https://app.example.com  https://admin.example.com ",
      PORTAL_LOGO_URL: "https://cdn.example.com/logo.svg",
    });
    expect(config.portal).toEqual({
      frameAncestors: ["https://app.example.com", "https://admin.example.com"],
      accentColor: "#2563eb",
      logoUrl: "https://cdn.example.com/logo.svg",
      theme: "auto",
    });
    expect(() => configOf({ PORTAL_ACCENT_COLOR: "blue" })).toThrow(/PORTAL_ACCENT_COLOR/);
    expect(() => configOf({ PORTAL_THEME: "sepia" })).toThrow(/PORTAL_THEME/);
  });
});
