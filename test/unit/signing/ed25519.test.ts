import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  generateEd25519KeyPair,
  PRIVATE_KEY_PREFIX,
  PUBLIC_KEY_PREFIX,
  signStandardWebhooksEd25519,
  toJwk,
} from "../../../src/signing/ed25519";

/** RFC 8032 section 7.1, test 1. */
const RFC8032_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

const raw = (key: string, prefix: string) => Buffer.from(key.slice(prefix.length), "base64");

/** A Node public key built from the `whpk_` bytes alone, not through the module under test. */
function nodePublicKey(publicKey: string): KeyObject {
  const x = raw(publicKey, PUBLIC_KEY_PREFIX).toString("base64url");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
}

/** The `v1a` signatures of a header value, in order. */
function v1aSignatures(header: string): Buffer[] {
  return header.split(" ").map((entry) => {
    expect(entry).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    return Buffer.from(entry.slice("v1a,".length), "base64");
  });
}

describe("Ed25519 keys", () => {
  it("issues a 32-byte seed behind whsk_ and a 32-byte public key behind whpk_", async () => {
    const { privateKey, publicKey } = await generateEd25519KeyPair();
    expect(privateKey.startsWith(PRIVATE_KEY_PREFIX)).toBe(true);
    expect(publicKey.startsWith(PUBLIC_KEY_PREFIX)).toBe(true);
    expect(privateKey).toMatch(/^whsk_[A-Za-z0-9+/]{43}=$/);
    expect(publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    expect(raw(privateKey, PRIVATE_KEY_PREFIX)).toHaveLength(32);
    expect(raw(publicKey, PUBLIC_KEY_PREFIX)).toHaveLength(32);
  });

  it("issues a different pair each time", async () => {
    const [a, b] = await Promise.all([generateEd25519KeyPair(), generateEd25519KeyPair()]);
    expect(a.privateKey).not.toBe(b.privateKey);
    expect(a.publicKey).not.toBe(b.publicKey);
  });

  it("exports an RFC 8037 JWK that Node imports as the same public key", async () => {
    const { publicKey } = await generateEd25519KeyPair();
    const jwk = toJwk(publicKey, "key_1");
    expect(jwk).toEqual({
      kty: "OKP",
      crv: "Ed25519",
      x: raw(publicKey, PUBLIC_KEY_PREFIX).toString("base64url"),
      kid: "key_1",
      use: "sig",
      alg: "EdDSA",
    });
    expect(jwk.x).not.toMatch(/[=+/]/);
    const imported = createPublicKey({ key: jwk, format: "jwk" });
    expect(imported.equals(nodePublicKey(publicKey))).toBe(true);
  });

  it("refuses keys without their prefix or of the wrong length", async () => {
    const { privateKey, publicKey } = await generateEd25519KeyPair();
    await expect(signStandardWebhooksEd25519([publicKey], "msg_1", 1, "{}")).rejects.toThrow(TypeError);
    const short = PRIVATE_KEY_PREFIX + Buffer.alloc(24).toString("base64");
    await expect(signStandardWebhooksEd25519([short], "msg_1", 1, "{}")).rejects.toThrow(TypeError);
    expect(() => toJwk(privateKey, "key_1")).toThrow(TypeError);
  });
});

describe("Standard Webhooks Ed25519 signing", () => {
  const msgId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
  const timestamp = 1614265330;
  const body = '{"type":"matter.created","data":{"id":"mat_1","name":"Zoë"}}';
  const content = Buffer.from(`${msgId}.${timestamp}.${body}`, "utf8");

  it("signs id.timestamp.body so that Node verifies it with the public key alone", async () => {
    const { privateKey, publicKey } = await generateEd25519KeyPair();
    const [signature] = v1aSignatures(
      await signStandardWebhooksEd25519([privateKey], msgId, timestamp, body),
    );
    expect(signature).toHaveLength(64);
    expect(verify(null, content, nodePublicKey(publicKey), signature as Buffer)).toBe(true);
  });

  it("fails verification for a tampered body or another key", async () => {
    const [signer, other] = await Promise.all([generateEd25519KeyPair(), generateEd25519KeyPair()]);
    const [signature] = v1aSignatures(
      await signStandardWebhooksEd25519([signer.privateKey], msgId, timestamp, body),
    );
    const tampered = Buffer.from(`${msgId}.${timestamp}.${body.replace("mat_1", "mat_2")}`, "utf8");
    expect(verify(null, tampered, nodePublicKey(signer.publicKey), signature as Buffer)).toBe(false);
    expect(verify(null, content, nodePublicKey(other.publicKey), signature as Buffer)).toBe(false);
  });

  it("signs once per live key, each entry verifying with its own public key", async () => {
    const [current, previous] = await Promise.all([generateEd25519KeyPair(), generateEd25519KeyPair()]);
    const header = await signStandardWebhooksEd25519(
      [current.privateKey, previous.privateKey],
      msgId,
      timestamp,
      body,
    );
    const [first, second] = v1aSignatures(header);
    expect(header.split(" ")).toHaveLength(2);
    expect(verify(null, content, nodePublicKey(current.publicKey), first as Buffer)).toBe(true);
    expect(verify(null, content, nodePublicKey(previous.publicKey), second as Buffer)).toBe(true);
    expect(verify(null, content, nodePublicKey(previous.publicKey), first as Buffer)).toBe(false);
  });

  it("signs the same content the same way every time (Ed25519 is deterministic)", async () => {
    const { privateKey } = await generateEd25519KeyPair();
    const sign = () => signStandardWebhooksEd25519([privateKey], msgId, timestamp, body);
    expect(await sign()).toBe(await sign());
  });

  it("matches RFC 8032 test 1's key pair and Node's own signature under that key", async () => {
    const seed = Buffer.from(RFC8032_SEED, "hex");
    const privateKey = PRIVATE_KEY_PREFIX + seed.toString("base64");
    const nodePrivateKey = createPrivateKey({
      key: {
        kty: "OKP",
        crv: "Ed25519",
        d: seed.toString("base64url"),
        x: Buffer.from(RFC8032_PUBLIC, "hex").toString("base64url"),
      },
      format: "jwk",
    });
    const expected = sign(null, content, nodePrivateKey).toString("base64");
    expect(await signStandardWebhooksEd25519([privateKey], msgId, timestamp, body)).toBe(`v1a,${expected}`);
  });

  it("gives a fixed signature for the Standard Webhooks test message under the RFC 8032 key", async () => {
    // The Standard Webhooks v1 test vector's message (test/unit/signing/signing.test.ts), signed under
    // RFC 8032 test 1's key; the same value came out of workerd's WebCrypto and Node's crypto.sign.
    const privateKey = PRIVATE_KEY_PREFIX + Buffer.from(RFC8032_SEED, "hex").toString("base64");
    expect(
      await signStandardWebhooksEd25519(
        [privateKey],
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        '{"test": 2432232314}',
      ),
    ).toBe("v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw==");
  });
});
