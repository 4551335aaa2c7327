import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// The script's loop runs against the real Worker in test/integration/api/secrets-key-rotation.test.ts;
// here, the command line around it.
const script = join(import.meta.dirname, "../../scripts/rotate-secrets-key.mjs");
const run = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [script, ...args], {
    encoding: "utf8",
    // vitest.config.ts puts ADMIN_TOKEN in the environment: each case sets its own, or none.
    env: { ...process.env, ADMIN_TOKEN: "", WEBHOOKS_URL: "", ...env },
  });

describe("npm run rotate-secrets-key", () => {
  it("says how to call it when the URL, the token or the batch size is missing or wrong", () => {
    for (const [args, env] of [
      [[], { ADMIN_TOKEN: "t" }],
      [["--url", "http://127.0.0.1:9"], {}],
      [["--url", "http://127.0.0.1:9", "--batch", "0"], { ADMIN_TOKEN: "t" }],
    ] as const) {
      const result = run([...args], env);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain("Usage: ADMIN_TOKEN=");
    }
  });

  it("exits 1 with the reason when the service cannot be reached", () => {
    const result = run(["--url", "http://127.0.0.1:9"], { ADMIN_TOKEN: "t" });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/fetch failed/);
  });
});
