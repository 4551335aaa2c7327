import { env } from "cloudflare:workers";
import { createPublicKey, type JsonWebKey, verify } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { call, callOk } from "../../support/api";
import { givenEndpoint, type Organization, publishSettled, type Receiver } from "../../support/fixtures";

type Received = { body: string; headers: Record<string, string> };

async function deliverOne(org: Organization, receiver: Receiver): Promise<Received> {
  const before = (await receiver.received()).length;
  await publishSettled(org);
  const received = await receiver.received();
  expect(received).toHaveLength(before + 1);
  return received.at(-1) as Received;
}

/**
 * The Standard Webhooks spec's check of `v1a` entries, with Node's crypto and nothing of ours: the
 * public key is the raw 32 bytes after `whpk_`, the signed content `${id}.${timestamp}.${body}`.
 */
function v1aVerifies(verificationKey: string, request: Received): boolean {
  const raw = Buffer.from(verificationKey.slice("whpk_".length), "base64");
  const key = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") },
    format: "jwk",
  });
  const content = `${request.headers["webhook-id"]}.${request.headers["webhook-timestamp"]}.${request.body}`;
  return (request.headers["webhook-signature"] ?? "")
    .split(" ")
    .filter((entry) => entry.startsWith("v1a,"))
    .some((entry) => verify(null, Buffer.from(content), key, Buffer.from(entry.slice(4), "base64")));
}

const hmacVerifies = (secret: string, request: Received) => {
  try {
    new Webhook(secret).verify(request.body, request.headers);
    return true;
  } catch {
    return false;
  }
};

const rotate = (org: Organization, endpointId: string, body: Record<string, unknown>) =>
  callOk("POST", `/webhooks/v1/endpoints/${endpointId}/rotate_secret`, 200, { token: org.token, body });

const jwks = (endpointId: string) => call("GET", `/webhooks/v1/jwks/${endpointId}`);

describe("Ed25519 signatures (v1a)", () => {
  it("signs with a private key only the service holds; the receiver verifies with the public key", async () => {
    const org = (await givenEndpoint()).org;
    const receiver = await givenEndpoint({ org, signatureAlgorithm: "ed25519" });
    const created = receiver.endpoint;
    const { verificationKey } = created;
    expect(verificationKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    expect(created.signatureAlgorithm).toBe("ed25519");
    const read = await callOk("GET", `/webhooks/v1/endpoints/${created.id}`, 200, { token: org.token });
    expect(read.endpoint).toMatchObject({ signatureAlgorithm: "ed25519", verificationKey });

    const request = await deliverOne(org, receiver.receiver);
    expect(request.headers["webhook-signature"]).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(v1aVerifies(verificationKey, request)).toBe(true);
    expect(v1aVerifies(verificationKey, { ...request, body: request.body.replace("matter", "mutter") })).toBe(
      false,
    );

    // The private key is stored sealed, beside its public key; no read ever shows it.
    const row = await env.DB.prepare(
      "SELECT ciphertext, public_key FROM endpoint_secrets WHERE endpoint_id = ?",
    )
      .bind(created.id)
      .first<{ ciphertext: string; public_key: string }>();
    expect(row?.public_key).toBe(verificationKey);
    expect(row?.ciphertext).not.toContain("whsk_");
    expect(JSON.stringify(read)).not.toContain("whsk_");

    // Its JWKS, without an API key, as RFC 8037 keys Node loads.
    const keySet = await jwks(created.id);
    expect(keySet.status).toBe(200);
    const { keys } = await keySet.json<{ keys: JsonWebKey[] }>();
    expect(keys).toEqual([
      {
        kty: "OKP",
        crv: "Ed25519",
        x: expect.any(String),
        kid: expect.any(String),
        use: "sig",
        alg: "EdDSA",
      },
    ]);
    const fromJwks = createPublicKey({ key: keys[0] as JsonWebKey, format: "jwk" });
    const fromRaw = Buffer.from(verificationKey.slice(5), "base64");
    expect(fromJwks.export({ format: "jwk" }).x).toBe(fromRaw.toString("base64url"));
  });

  it("changes algorithm by rotation: both kinds of entry through the grace, then only the new one", async () => {
    const { org, receiver, endpoint, signingSecret } = await givenEndpoint();
    expect((await jwks(endpoint.id)).status).toBe(404);

    const toEd25519 = await rotate(org, endpoint.id, {
      signatureAlgorithm: "ed25519",
      previousSecretExpiresInSec: 3_600,
    });
    expect(toEd25519.signingSecret).toBeUndefined();
    const { verificationKey } = toEd25519;
    const during = await deliverOne(org, receiver);
    const entries = during.headers["webhook-signature"]?.split(" ") ?? [];
    expect(entries.map((e) => e.slice(0, e.indexOf(",")))).toEqual(["v1", "v1a"]);
    // A receiver still on the HMAC secret verifies (standardwebhooks reads only `v1`), and so does one
    // already on the public key.
    expect(hmacVerifies(signingSecret, during)).toBe(true);
    expect(v1aVerifies(verificationKey, during)).toBe(true);

    // A second Ed25519 key: the JWKS lists both while both sign, newest first.
    const again = await rotate(org, endpoint.id, { previousSecretExpiresInSec: 3_600 });
    const { keys } = await (await jwks(endpoint.id)).json<{ keys: { x: string }[] }>();
    expect(keys.map((k) => Buffer.from(k.x, "base64url").toString("base64"))).toEqual([
      again.verificationKey.slice(5),
      verificationKey.slice(5),
    ]);

    // Back to HMAC at once: only `v1` under the new secret, and no key set left.
    const back = await rotate(org, endpoint.id, {
      signatureAlgorithm: "hmac-sha256",
      previousSecretExpiresInSec: 0,
    });
    expect(back.signingSecret).toMatch(/^whsec_/);
    const after = await deliverOne(org, receiver);
    expect(after.headers["webhook-signature"]).toMatch(/^v1,[^ ]+$/);
    expect(hmacVerifies(back.signingSecret, after)).toBe(true);
    expect((await jwks(endpoint.id)).status).toBe(404);
    expect(
      (await callOk("GET", `/webhooks/v1/endpoints/${endpoint.id}`, 200, { token: org.token })).endpoint,
    ).toMatchObject({ signatureAlgorithm: "hmac-sha256", verificationKey: null });
  });

  it("refuses Ed25519 with the Convoy scheme, and serves no key set for a deleted endpoint", async () => {
    const { org, endpoint } = await givenEndpoint({ signatureScheme: "convoy" });
    const refused = await call("POST", `/webhooks/v1/endpoints/${endpoint.id}/rotate_secret`, {
      token: org.token,
      body: { signatureAlgorithm: "ed25519" },
    });
    expect(refused.status).toBe(422);
    expect((await refused.json<{ errors: { path: string }[] }>()).errors).toEqual([
      expect.objectContaining({ path: "signatureAlgorithm" }),
    ]);
    const create = await call("POST", "/webhooks/v1/endpoints", {
      token: org.token,
      body: {
        url: "http://127.0.0.1:9/x",
        eventTypeFilters: ["*"],
        signatureScheme: "convoy",
        signatureAlgorithm: "ed25519",
      },
    });
    expect(create.status).toBe(422);

    const { endpoint: signed } = await givenEndpoint({ org, signatureAlgorithm: "ed25519" });
    expect((await jwks(signed.id)).status).toBe(200);
    await callOk("DELETE", `/webhooks/v1/endpoints/${signed.id}`, 204, { token: org.token });
    expect((await jwks(signed.id)).status).toBe(404);
  });
});
