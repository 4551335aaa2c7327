import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * Tests run inside workerd with the bindings of wrangler.toml (real local D1, Queues and Durable
 * Objects). Vars are overridden for speed: short retry schedule and timeouts, small thresholds.
 */
const queueConsumer = (overrides: Record<string, unknown> = {}) => ({
  // An override replaces wrangler.toml's whole entry, so every field is restated.
  maxBatchSize: 10,
  maxBatchTimeout: 0.05,
  maxRetries: 10,
  ...overrides,
});

/** Test secrets; also put in process.env, where the plugin looks for wrangler.toml's required secrets. */
const secrets = {
  ADMIN_TOKEN: "test-admin-token",
  SECRETS_KEY: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
};
Object.assign(process.env, secrets);

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ...secrets,
            ALLOW_INSECURE_URLS: "true",
            RETRY_SCHEDULE_SECONDS: "1,1",
            INLINE_RETRY_DELAYS_MS: "100",
            DELIVERY_TIMEOUT_MS: "1500",
            AUTO_DISABLE_AFTER_SECONDS: "1",
            AUTO_DISABLE_MIN_FAILURES: "1000",
            MAX_PAYLOAD_BYTES: "65536",
          },
          queueConsumers: {
            "webhook-events": queueConsumer(),
            "webhook-deliveries": queueConsumer({ deadLetterQueue: "webhook-deliveries-dlq" }),
            "webhook-deliveries-dlq": queueConsumer(),
          },
        },
      }),
    ],
    test: {
      globalSetup: ["./test/global-setup.ts"],
      setupFiles: ["./test/apply-migrations.ts"],
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  };
});
