import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { reencryptUntilDone } from "../../../scripts/rotate-secrets-key.mjs";
import { getEndpointById } from "../../../src/db/endpoints/reads";
import {
  headerValuesContext,
  loadEndpointCredentials,
  signingSecretContext,
} from "../../../src/delivery/endpoint-credentials";
import worker from "../../../src/index";
import { keyRing, sealSecret, UnreadableSecretError } from "../../../src/lib/secret-box";
import {
  ADMIN_TOKEN,
  call,
  callOk,
  createEndpoint,
  createOrganization,
  publish,
  receiverChannel,
  settledDeliveries,
} from "../../support/api";
import { givenEndpoint, rotateSecret } from "../../support/fixtures";
import { keyId, legacyCiphertext, OLD_KEY, OTHER_KEY, SECRETS_KEY } from "../../support/secrets";

const TOKEN = "Bearer sk_live_0123456789abcdefWXYZ";

/** The Worker as deployed with `SECRETS_KEY_PREVIOUS` set: the same bindings, one more secret. */
const withPrevious = (previous: string) => ({ ...env, SECRETS_KEY_PREVIOUS: previous }) as Env;

/** A request to the Worker running under `workerEnv`. */
async function callUnder(workerEnv: Env, method: string, path: string, token: string, body?: unknown) {
  const request = new Request(`https://webhooks.test${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return worker.fetch(request as Parameters<typeof worker.fetch>[0], workerEnv, createExecutionContext());
}

const setSecret = (endpointId: string, ciphertext: string) =>
  env.DB.prepare("UPDATE endpoint_secrets SET ciphertext = ? WHERE endpoint_id = ?")
    .bind(ciphertext, endpointId)
    .run();
const setHeaderValues = (endpointId: string, ciphertext: string) =>
  env.DB.prepare("UPDATE endpoints SET header_values = ? WHERE id = ?").bind(ciphertext, endpointId).run();
const storedForms = (endpointId: string) =>
  env.DB.prepare(
    `SELECT s.ciphertext, e.header_values, e.legacy_header_values, e.headers
     FROM endpoints e JOIN endpoint_secrets s ON s.endpoint_id = e.id WHERE e.id = ?`,
  )
    .bind(endpointId)
    .first<{
      ciphertext: string;
      header_values: string | null;
      legacy_header_values: string | null;
      headers: string;
    }>();

/** Seals as the service did while `base64Key` was its SECRETS_KEY. */
async function sealUnder(base64Key: string, plaintext: string, context: string) {
  return sealSecret(await keyRing({ SECRETS_KEY: base64Key }), plaintext, context);
}

async function expectUnreadable(response: Response, remedy: RegExp) {
  expect(response.status).toBe(409);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await response.json<{ detail: string }>();
  expect(problem.detail).toMatch(/cannot be decrypted/);
  expect(problem.detail).toMatch(remedy);
}

const verifies = (secret: string, request: { body: string; headers: Record<string, string> } | undefined) =>
  new Webhook(secret).verify(request?.body ?? "", request?.headers ?? {});

describe("SECRETS_KEY rotation", () => {
  it("opens what a key in SECRETS_KEY_PREVIOUS sealed, and re-encryption moves it under the current key", async () => {
    const { org, receiver, endpoint, signingSecret } = await givenEndpoint({
      filters: ["*"],
      headers: { Authorization: TOKEN },
    });
    // As sealed while OLD_KEY was SECRETS_KEY.
    await setSecret(endpoint.id, await sealUnder(OLD_KEY, signingSecret, signingSecretContext(endpoint.id)));
    await setHeaderValues(
      endpoint.id,
      await sealUnder(OLD_KEY, JSON.stringify({ Authorization: TOKEN }), headerValuesContext(endpoint.id)),
    );
    const testPath = `/webhooks/v1/endpoints/${endpoint.id}/test`;

    // Deployed with the new key and the old one listed (among others): everything still works.
    const rotated = withPrevious(`${OTHER_KEY}, ${OLD_KEY}`);
    const sent = await callUnder(rotated, "POST", testPath, org.token);
    expect(await sent.json()).toMatchObject({ ok: true, statusCode: 200 });
    const [request] = await receiver.received();
    expect(verifies(signingSecret, request)).toMatchObject({ type: "webhook.test" });
    expect(request?.headers.authorization).toBe(TOKEN);
    // Without the old key listed, nothing opens.
    await expectUnreadable(await call("POST", testPath, { token: org.token }), /PATCH|rotate/);

    const reencrypt = await callUnder(rotated, "POST", "/admin/v1/secrets/reencrypt", ADMIN_TOKEN);
    expect(await reencrypt.json()).toEqual({ reencrypted: 2, remaining: 0, unreadable: [] });
    const stored = await storedForms(endpoint.id);
    const current = await keyId(SECRETS_KEY);
    expect(stored?.ciphertext.startsWith(`v2:${current}:`)).toBe(true);
    expect(stored?.header_values?.startsWith(`v2:${current}:`)).toBe(true);
    // The old key can go.
    expect(await callOk("POST", testPath, 200, { token: org.token })).toMatchObject({ ok: true });
    expect(verifies(signingSecret, (await receiver.received())[1])).toMatchObject({ type: "webhook.test" });
  });

  it("still opens the legacy form, and re-encryption seals it with a key id and its endpoint's additional data", async () => {
    const { org, receiver, endpoint, signingSecret } = await givenEndpoint();
    // As stored before migration 0002: a legacy ciphertext, and header values in clear.
    await setSecret(endpoint.id, await legacyCiphertext(SECRETS_KEY, signingSecret));
    await env.DB.prepare("UPDATE endpoints SET headers = ?, legacy_header_values = ? WHERE id = ?")
      .bind('{"X-Tenant":"••••••••"}', '{"X-Tenant":"acme-legacy-1234"}', endpoint.id)
      .run();
    const deliverOne = async () => {
      const event = await publish(org.id, "matter.created", { matterId: "m", name: "n" });
      await settledDeliveries(org.token, `event_id=${event.id}&status=delivered`, 1);
      return (await receiver.received()).at(-1);
    };
    const before = await deliverOne();
    expect(verifies(signingSecret, before)).toMatchObject({ type: "matter.created" });
    expect(before?.headers["x-tenant"]).toBe("acme-legacy-1234");

    const report = await callOk("POST", "/admin/v1/secrets/reencrypt", 200, { token: ADMIN_TOKEN });
    expect(report).toEqual({ reencrypted: 2, remaining: 0, unreadable: [] });
    const stored = await storedForms(endpoint.id);
    expect(stored).toMatchObject({
      ciphertext: expect.stringMatching(/^v2:[0-9a-f]{8}:/),
      header_values: expect.stringMatching(/^v2:[0-9a-f]{8}:/),
      legacy_header_values: null,
      headers: '{"X-Tenant":"••••••••1234"}',
    });
    expect(JSON.stringify(stored)).not.toContain("acme-legacy");
    const after = await deliverOne();
    expect(verifies(signingSecret, after)).toMatchObject({ type: "matter.created" });
    expect(after?.headers["x-tenant"]).toBe("acme-legacy-1234");
  });

  it("re-encrypts a bounded number per call, and the cron trigger carries on", async () => {
    const org = await createOrganization();
    for (let i = 0; i < 3; i++) {
      const { endpoint, signingSecret } = await createEndpoint(org.token, {
        url: receiverChannel().url,
        eventTypeFilters: ["*"],
      });
      await setSecret(endpoint.id, await legacyCiphertext(SECRETS_KEY, signingSecret));
    }
    const first = await callOk("POST", "/admin/v1/secrets/reencrypt", 200, {
      token: ADMIN_TOKEN,
      body: { limit: 2 },
    });
    expect(first).toEqual({ reencrypted: 2, remaining: 1, unreadable: [] });
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() }), env);
    expect(await callOk("POST", "/admin/v1/secrets/reencrypt", 200, { token: ADMIN_TOKEN })).toEqual({
      reencrypted: 0,
      remaining: 0,
      unreadable: [],
    });
  });

  it("answers 409 for a secret no configured key opens, throws a typed error to the delivery run, and lets it be replaced", async () => {
    const { org, receiver, endpoint, signingSecret } = await givenEndpoint({
      filters: ["*"],
      headers: { Authorization: TOKEN, "X-Keep": "kept" },
    });
    const testPath = `/webhooks/v1/endpoints/${endpoint.id}/test`;
    const patchPath = `/webhooks/v1/endpoints/${endpoint.id}`;
    const lostHeaders = JSON.stringify({ Authorization: TOKEN, "X-Keep": "kept" });
    await setHeaderValues(
      endpoint.id,
      await sealUnder(OLD_KEY, lostHeaders, headerValuesContext(endpoint.id)),
    );

    const stored = await getEndpointById(env.DB, endpoint.id);
    await expect(loadEndpointCredentials(env, stored as NonNullable<typeof stored>)).rejects.toBeInstanceOf(
      UnreadableSecretError,
    );
    await expectUnreadable(
      await call("POST", testPath, { token: org.token }),
      /every custom header in one PATCH/,
    );
    // A merge that keeps a header needs its value: refused. Replacing them all needs none.
    const keeping = await call("PATCH", patchPath, {
      token: org.token,
      body: { headers: { Authorization: "x" } },
    });
    await expectUnreadable(keeping, /every custom header/);
    await callOk("PATCH", patchPath, 200, {
      token: org.token,
      body: { headers: { Authorization: TOKEN, "X-Keep": null } },
    });

    await setSecret(endpoint.id, await sealUnder(OLD_KEY, signingSecret, signingSecretContext(endpoint.id)));
    await expectUnreadable(
      await call("POST", testPath, { token: org.token }),
      /previousSecretExpiresInSec: 0/,
    );
    const stuck = await callOk("POST", "/admin/v1/secrets/reencrypt", 200, { token: ADMIN_TOKEN });
    expect(stuck).toEqual({ reencrypted: 0, remaining: 1, unreadable: [endpoint.id] });
    const { signingSecret: fresh } = await rotateSecret(org, endpoint.id, 0);
    expect(await callOk("POST", testPath, 200, { token: org.token })).toMatchObject({ ok: true });
    const request = (await receiver.received()).at(-1);
    expect(verifies(fresh, request)).toMatchObject({ type: "webhook.test" });
    expect(request?.headers.authorization).toBe(TOKEN);
    // The expired secret signs nothing: nothing is left to re-encrypt.
    expect(await callOk("POST", "/admin/v1/secrets/reencrypt", 200, { token: ADMIN_TOKEN })).toMatchObject({
      remaining: 0,
    });
  });

  it("binds a ciphertext to its endpoint: copied to another endpoint, it does not open", async () => {
    const org = await createOrganization();
    const a = await givenEndpoint({ org, filters: ["*"] });
    const b = await givenEndpoint({ org, filters: ["*"] });
    const aSecret = await env.DB.prepare("SELECT ciphertext FROM endpoint_secrets WHERE endpoint_id = ?")
      .bind(a.endpoint.id)
      .first<string>("ciphertext");
    await setSecret(b.endpoint.id, aSecret ?? "");
    await callOk("POST", `/webhooks/v1/endpoints/${a.endpoint.id}/test`, 200, { token: org.token });
    await expectUnreadable(
      await call("POST", `/webhooks/v1/endpoints/${b.endpoint.id}/test`, { token: org.token }),
      /rotate/,
    );
  });

  it("the rotation script re-encrypts in batches until none is left, and stops on what no key opens", async () => {
    const org = await createOrganization();
    const endpoints = [];
    for (let i = 0; i < 5; i++) {
      const created = await createEndpoint(org.token, {
        url: receiverChannel().url,
        eventTypeFilters: ["*"],
      });
      await setSecret(created.endpoint.id, await legacyCiphertext(SECRETS_KEY, created.signingSecret));
      endpoints.push(created);
    }
    const run = async () => {
      const lines: string[] = [];
      const code = await reencryptUntilDone({
        post: (limit: number) =>
          callOk("POST", "/admin/v1/secrets/reencrypt", 200, { token: ADMIN_TOKEN, body: { limit } }),
        limit: 2,
        print: (line: string) => lines.push(line),
        fail: (line: string) => lines.push(`error: ${line}`),
      });
      return { code, lines };
    };
    expect(await run()).toEqual({
      code: 0,
      lines: [
        "Re-encrypted 2 so far, 3 left.",
        "Re-encrypted 4 so far, 1 left.",
        "Re-encrypted 5 so far, 0 left.",
        "Done: every secret is sealed under SECRETS_KEY. Remove the old key:",
        "  npx wrangler secret delete SECRETS_KEY_PREVIOUS",
      ],
    });

    const [lost] = endpoints;
    const lostId = lost?.endpoint.id as string;
    await setSecret(
      lostId,
      await sealUnder(OLD_KEY, lost?.signingSecret ?? "", signingSecretContext(lostId)),
    );
    const stopped = await run();
    expect(stopped.code).toBe(1);
    expect(stopped.lines.at(-1)).toMatch(
      new RegExp(`^error: 1 left that no configured key decrypts, of endpoints ${lostId}\\.`),
    );
    // Deleting the endpoint purges its secret: nothing is left.
    await callOk("DELETE", `/webhooks/v1/endpoints/${lostId}`, 204, { token: org.token });
    expect((await run()).code).toBe(0);
  });
});
