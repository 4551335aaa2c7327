import { createRoute, z } from "@hono/zod-openapi";
import { listVerificationKeys } from "../db/endpoint-secrets";
import { notFound } from "../lib/errors";
import { toJwk } from "../signing/ed25519";
import { createRouter, idParam, jsonContent, notFoundResponse, publicResponses } from "./app";
import { clientAddress } from "./auth-failures";
import { throttleAddress } from "./throttle";

/**
 * An endpoint's Ed25519 public keys as a JWKS (RFC 7517, keys per RFC 8037), for receivers that load
 * verification keys by URL. Public, like the keys: no API key, so the receiver needs no credential
 * of the sender's, and the endpoint's id (unguessable, shown to its owner) is the address. Every key
 * that signs now is listed, newest first, those of a rotation's grace window included.
 */
const JwkOut = z
  .object({
    kty: z.literal("OKP"),
    crv: z.literal("Ed25519"),
    x: z.string().openapi({ description: "The 32-byte public key, base64url" }),
    kid: z.string(),
    use: z.literal("sig"),
    alg: z.literal("EdDSA"),
  })
  .openapi("Jwk");

export const verificationKeys = createRouter();

verificationKeys.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    operationId: "getEndpointJwks",
    tags: ["Endpoints"],
    summary: "The endpoint's Ed25519 verification keys, as a JWKS (public, no API key)",
    security: [],
    request: { params: idParam("endpoint") },
    responses: {
      200: jsonContent(z.object({ keys: z.array(JwkOut) }), "Every key that signs now, newest first"),
      ...notFoundResponse,
      ...publicResponses,
    },
  }),
  async (c) => {
    await throttleAddress(c.env.ORG_API_RATE_LIMITER, clientAddress(c.req.raw));
    const { id } = c.req.valid("param");
    const keys = await listVerificationKeys(c.env.DB, id, new Date().toISOString());
    if (keys.length === 0) throw notFound("Ed25519 verification keys of this endpoint");
    // Short enough that a receiver sees a rotation's new key well within its grace window.
    c.header("cache-control", "public, max-age=300");
    return c.json({ keys: keys.map((k) => toJwk(k.publicKey, k.id)) }, 200);
  },
);
