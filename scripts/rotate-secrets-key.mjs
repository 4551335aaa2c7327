#!/usr/bin/env node
// `ADMIN_TOKEN=… npm run rotate-secrets-key -- --url https://<the worker> [--batch 100]`: the
// re-encryption step of a SECRETS_KEY rotation (docs/security.md). Calls
// POST /admin/v1/secrets/reencrypt until no secret is left under an old key, printing progress, then
// says SECRETS_KEY_PREVIOUS may go. Exits 1 when a call re-encrypts nothing while some are left: no
// configured key opens those (it names their endpoints), so the old key must stay until they are
// replaced. The cron trigger does the same work a batch at a time; this only hurries it.
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

/**
 * Calls `post(limit)` (one re-encryption request, resolving to its `{reencrypted, remaining,
 * unreadable}`) until nothing remains or a call makes no progress; returns the exit code.
 */
export async function reencryptUntilDone({ post, limit, print, fail }) {
  let total = 0;
  for (;;) {
    const { reencrypted, remaining, unreadable } = await post(limit);
    total += reencrypted;
    print(`Re-encrypted ${total} so far, ${remaining} left.`);
    if (remaining === 0) {
      print("Done: every secret is sealed under SECRETS_KEY. Remove the old key:");
      print("  npx wrangler secret delete SECRETS_KEY_PREVIOUS");
      return 0;
    }
    if (reencrypted === 0) {
      fail(
        unreadable.length > 0
          ? `${remaining} left that no configured key decrypts, of endpoints ${unreadable.join(", ")}.\n` +
              "Keep SECRETS_KEY_PREVIOUS (and add the key that sealed them) until they are re-encrypted, " +
              "or have their owners replace them (rotate_secret, or PATCH every header)."
          : `${remaining} left, but this call re-encrypted none (they changed meanwhile): run again.`,
      );
      return 1;
    }
  }
}

/** One request, waiting out a 429 as its Retry-After says. */
async function postReencrypt(base, token, limit) {
  for (;;) {
    const response = await fetch(new URL("/admin/v1/secrets/reencrypt", base), {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ limit }),
    });
    if (response.status === 429) {
      await new Promise((r) => setTimeout(r, Number(response.headers.get("retry-after") ?? 1) * 1000));
      continue;
    }
    const text = await response.text();
    if (!response.ok)
      throw new Error(`POST /admin/v1/secrets/reencrypt answered ${response.status}: ${text}`);
    return JSON.parse(text);
  }
}

async function main() {
  const { values } = parseArgs({
    options: { url: { type: "string" }, batch: { type: "string", default: "100" } },
  });
  const base = values.url ?? process.env.WEBHOOKS_URL;
  const token = process.env.ADMIN_TOKEN;
  const limit = Number(values.batch);
  if (!base || !token || !Number.isInteger(limit) || limit < 1 || limit > 500) {
    console.error(
      "Usage: ADMIN_TOKEN=… npm run rotate-secrets-key -- --url https://<the worker> [--batch 1..500]",
    );
    return 2;
  }
  try {
    return await reencryptUntilDone({
      post: (n) => postReencrypt(base, token, n),
      limit,
      print: (line) => console.log(line),
      fail: (line) => console.error(line),
    });
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
}

// Run as a command, not when a test imports the loop.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  process.exitCode = await main();
