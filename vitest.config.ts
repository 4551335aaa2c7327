import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { type Unstable_Config, unstable_readConfig } from "wrangler";

/**
 * Integration tests run inside workerd with the bindings of wrangler.toml (real local D1, Queues and
 * Durable Objects); unit tests of the pure modules and tests of the npm scripts run in plain Node.
 * Vars are overridden for speed: short retry schedules and timeouts. The workerd projects differ only
 * in their vars: `health` auto-disables endpoints after a short streak and has a longer last
 * retry step (so Retry-After can be seen); `security` applies the production URL policy and low
 * request limits; `limits` has small endpoint caps and replay quota, to reach them; in `service`
 * endpoints are never auto-disabled, nothing is throttled, and the caps are far off.
 */

/** Test secrets; also put in process.env, where the plugin looks for wrangler.toml's required secrets. */
const secrets = {
  ADMIN_TOKEN: "test-admin-token",
  SECRETS_KEY: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
};
Object.assign(process.env, secrets);
// Wrangler says "Using secrets defined in process.env" for every test file it starts a Worker for;
// warnings and errors still show.
process.env.WRANGLER_LOG ??= "warn";

const baseVars = {
  ...secrets,
  ALLOW_INSECURE_URLS: "true",
  RETRY_SCHEDULE_SECONDS: "1,1",
  INLINE_RETRY_DELAYS_MS: "100",
  DELIVERY_TIMEOUT_MS: "1500",
  // Never reached outside the health project: an endpoint's health object would otherwise wake a
  // second after each failure, often after its test file has ended (vitest then reports the alarm's
  // module loads as EnvironmentTeardownError).
  AUTO_DISABLE_AFTER_SECONDS: "86400",
  AUTO_DISABLE_MIN_FAILURES: "1000",
  MAX_PAYLOAD_BYTES: "65536",
  // Far above what any test creates (one creates 2,000 endpoints in an organization, to one URL).
  MAX_ENDPOINTS_PER_ORGANIZATION: "10000",
  MAX_ENDPOINTS_PER_URL: "10000",
};

/**
 * wrangler.toml's queue consumers, as Miniflare takes them: the same dead-letter queues, batch sizes
 * and max_retries as production, so a message that keeps failing is dead-lettered after as many
 * deliveries as it would be deployed. Only the batch timeout differs, 50 ms instead of 1 s, so a test
 * does not wait a second at each queue hop (max_concurrency has no local counterpart).
 */
function queueConsumers() {
  const { queues } = unstable_readConfig({ config: path.join(import.meta.dirname, "wrangler.toml") });
  const consumers: NonNullable<Unstable_Config["queues"]["consumers"]> = queues.consumers ?? [];
  return Object.fromEntries(
    consumers.map((consumer) => [
      consumer.queue,
      {
        maxBatchSize: consumer.max_batch_size,
        maxBatchTimeout: 0.05,
        maxRetries: consumer.max_retries,
        deadLetterQueue: consumer.dead_letter_queue,
        retryDelay: consumer.retry_delay,
      },
    ]),
  );
}

const HEALTH_TESTS = "test/integration/health/**/*.test.ts";
const SECURITY_TESTS = "test/integration/security/**/*.test.ts";
const LIMITS_TESTS = "test/integration/limits/**/*.test.ts";
/** Tests of the npm scripts themselves: plain Node, no Worker. */
const SCRIPT_TESTS = "test/scripts/**/*.test.ts";
/** Tests of the pure modules (no binding, no I/O): plain Node, without a workerd start-up per file. */
const UNIT_TESTS = "test/unit/**/*.test.ts";
/** The customer portal in Chromium against `wrangler dev` (test/browser/). */
const BROWSER_TESTS = "test/browser/**/*.test.ts";

/**
 * Throttling is effectively off except in the security project, which tests it: `limit` requests per
 * period for each credential, `authFailureLimit` refused credentials per period for each client
 * address (every test request comes from one address unless it sends CF-Connecting-IP, and some send
 * garbage tokens on purpose). The admin limiter counts blocks of ten requests (ADMIN_REQUESTS_PER_BLOCK
 * in src/api/throttle.ts, not imported: the config loader would bundle the service's source).
 */
const apiRateLimits = (limit: number, authFailureLimit: number) => ({
  ORG_API_RATE_LIMITER: { namespace_id: "1001", simple: { limit, period: 60 as const } },
  ADMIN_API_RATE_LIMITER: {
    namespace_id: "1002",
    simple: { limit: Math.ceil(limit / 10), period: 10 as const },
  },
  AUTH_FAILURE_RATE_LIMITER: {
    namespace_id: "1003",
    simple: { limit: authFailureLimit, period: 10 as const },
  },
});

export default defineConfig(async () => {
  // The control plane's schema for DB, the data plane's for every DB_SHARD_<n> (test/apply-migrations.ts).
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations/control"));
  const dataMigrations = await readD1Migrations(path.join(import.meta.dirname, "migrations/data"));
  const consumers = queueConsumers();
  const project = (
    name: string,
    files: { include: string[]; exclude?: string[] },
    vars: Record<string, string>,
    rateLimit = 1_000_000,
    authFailureLimit = 1_000_000,
  ) => ({
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ...baseVars,
            ...vars,
            TEST_MIGRATIONS: migrations,
            TEST_DATA_MIGRATIONS: dataMigrations,
          },
          ratelimits: apiRateLimits(rateLimit, authFailureLimit),
          queueConsumers: consumers,
        },
      }),
    ],
    test: {
      name,
      ...files,
      globalSetup: ["./test/global-setup.ts"],
      setupFiles: ["./test/apply-migrations.ts"],
      // For tests that count a message's deliveries (inject("queueConsumers")).
      provide: { queueConsumers: consumers },
      // The Worker logs a line per attempt; show logs only for failing tests.
      silent: "passed-only" as const,
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  });
  return {
    test: {
      // Only what a developer reads: each failure with its logs (`silent: "passed-only"` above), the
      // totals, and the summary line CI reads. `--reporter=default` lists every file as it finishes.
      reporters: ["minimal", "./test/summary-reporter.ts"],
      // Vitest's default is one worker per core but one, so a single file at a time on two cores. The
      // suite mostly waits (on the receiver, on retry delays, on queues), so three files run at once.
      maxWorkers: 3,
      projects: [
        project(
          "service",
          {
            include: ["test/**/*.test.ts"],
            exclude: [HEALTH_TESTS, SECURITY_TESTS, LIMITS_TESTS, SCRIPT_TESTS, UNIT_TESTS, BROWSER_TESTS],
          },
          {},
        ),
        { test: { name: "unit", include: [UNIT_TESTS], environment: "node" } },
        // Each script test starts node several times, which can take seconds on a loaded machine.
        {
          test: { name: "scripts", include: [SCRIPT_TESTS], environment: "node", testTimeout: 30_000 },
        },
        // A wrangler dev of its own and a browser: run after the others (`npm test`), which they would
        // otherwise slow past their bounds on two cores.
        {
          test: {
            name: "browser",
            include: [BROWSER_TESTS],
            environment: "node",
            testTimeout: 240_000,
            hookTimeout: 120_000,
          },
        },
        // Production URL policy (https, no private addresses), a low per-key request limit,
        // wrangler.toml's limit on refused credentials per address (20 per 10 s), and the portal
        // embeddable by one platform origin (docs/portal.md#embedding-and-look).
        project(
          "security",
          { include: [SECURITY_TESTS] },
          { ALLOW_INSECURE_URLS: "false", PORTAL_FRAME_ANCESTORS: "https://app.example.com" },
          100,
          20,
        ),
        // Caps and quota small enough to reach: endpoints per organization and per URL, replays per hour.
        project(
          "limits",
          { include: [LIMITS_TESTS] },
          {
            MAX_ENDPOINTS_PER_ORGANIZATION: "5",
            MAX_ENDPOINTS_PER_URL: "3",
            REPLAYS_PER_ENDPOINT_PER_HOUR: "3",
          },
        ),
        project(
          "health",
          { include: [HEALTH_TESTS] },
          {
            AUTO_DISABLE_AFTER_SECONDS: "2",
            AUTO_DISABLE_MIN_FAILURES: "4",
            RETRY_SCHEDULE_SECONDS: "1,1,1,1,1,1,1,1,1,4",
          },
        ),
      ],
    },
  };
});
