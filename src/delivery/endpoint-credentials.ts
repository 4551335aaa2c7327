import { insertEndpointSecret, listSigningSecretCiphertexts } from "../db/endpoint-secrets";
import type { Endpoint, HeaderValues, SignatureAlgorithm } from "../domain/endpoint";
import type { EndpointId } from "../lib/ids";
import { type KeyRing, keyRing, openSecret, type SecretKeys, sealSecret } from "../lib/secret-box";
import { generateEd25519KeyPair } from "../signing/ed25519";
import { generateSigningSecret } from "../signing/secrets";

/**
 * An endpoint's credentials: its signing secrets and its custom header values (in practice
 * `Authorization: Bearer …`), both sealed at rest with lib/secret-box.ts, each bound to its endpoint
 * and purpose. Opened for sending in one place, `loadEndpointCredentials`; the API only seals, and
 * shows header values masked (docs/security.md).
 */
export type EndpointCredentials = {
  /**
   * Plaintext secrets that sign now, newest first (more than one during a secret rotation): `whsec_`
   * HMAC secrets and `whsk_` Ed25519 private keys, both during a change of algorithm.
   */
  secrets: string[];
  /** The custom headers to send, values in clear. */
  headers: Record<string, string>;
};

/** What a sealed secret is, as additional data: a ciphertext copied to another endpoint or use does not open. */
export const signingSecretContext = (endpointId: string) => `endpoint:${endpointId}:signing-secret`;
export const headerValuesContext = (endpointId: string) => `endpoint:${endpointId}:headers`;

/**
 * The endpoint's live signing secrets and its headers in clear. Throws UnreadableSecretError
 * (lib/secret-box.ts) when a key it needs is not configured, or a secret was altered.
 */
export async function loadEndpointCredentials(
  env: Pick<Env, "DB"> & SecretKeys,
  endpoint: Pick<Endpoint, "id" | "headerValues">,
): Promise<EndpointCredentials> {
  const ring = await keyRing(env);
  const ciphertexts = await listSigningSecretCiphertexts(env.DB, endpoint.id, new Date().toISOString());
  const [secrets, headers] = await Promise.all([
    Promise.all(ciphertexts.map((c) => openSecret(ring, c, signingSecretContext(endpoint.id)))),
    openHeaderValues(ring, endpoint),
  ]);
  return { secrets, headers };
}

/**
 * What a new key shows its owner, once for a secret: an HMAC secret (`signingSecret`, which signs and
 * verifies), or an Ed25519 key's public half (`verificationKey`: public, shown on every read too).
 */
export type NewKeyShown = { signingSecret: string } | { verificationKey: string };

/**
 * A new signing key for the endpoint (at creation, at a rotation): what its owner is shown, its public
 * key (Ed25519; null for HMAC), and the statement that stores it sealed.
 */
export async function newSigningSecret(
  env: Pick<Env, "DB"> & SecretKeys,
  endpointId: EndpointId,
  algorithm: SignatureAlgorithm,
  createdAt: string,
): Promise<{ shown: NewKeyShown; verificationKey: string | null; store: D1PreparedStatement }> {
  const { secret, publicKey } =
    algorithm === "ed25519"
      ? await generateEd25519KeyPair().then((pair) => ({
          secret: pair.privateKey,
          publicKey: pair.publicKey,
        }))
      : { secret: generateSigningSecret(), publicKey: null };
  const sealed = await sealSecret(await keyRing(env), secret, signingSecretContext(endpointId));
  return {
    shown: publicKey === null ? { signingSecret: secret } : { verificationKey: publicKey },
    verificationKey: publicKey,
    store: insertEndpointSecret(env.DB, endpointId, sealed, publicKey, createdAt),
  };
}

/** Header values in clear; throws UnreadableSecretError as loadEndpointCredentials does. */
export async function openHeaderValues(
  ring: KeyRing,
  endpoint: Pick<Endpoint, "id" | "headerValues">,
): Promise<Record<string, string>> {
  const { headerValues } = endpoint;
  if (headerValues.state === "none") return {};
  if (headerValues.state === "clear") return headerValues.values;
  return JSON.parse(await openSecret(ring, headerValues.ciphertext, headerValuesContext(endpoint.id)));
}

/** Custom headers as they are stored: sealed values, and masks for the API to show. */
export async function sealHeaderValues(
  ring: KeyRing,
  endpointId: string,
  headers: Record<string, string>,
): Promise<{
  headerValues: Exclude<HeaderValues, { state: "clear" }>;
  maskedHeaders: Record<string, string>;
}> {
  const maskedHeaders = Object.fromEntries(Object.entries(headers).map(([name, v]) => [name, maskValue(v)]));
  if (Object.keys(headers).length === 0) return { headerValues: { state: "none" }, maskedHeaders };
  const ciphertext = await sealSecret(ring, JSON.stringify(headers), headerValuesContext(endpointId));
  return { headerValues: { state: "sealed", ciphertext }, maskedHeaders };
}

const BULLETS = "••••••••";
/** Below this length a value is shown as bullets alone: its last four characters would say too much. */
const SHOW_TAIL_FROM = 16;

/**
 * A header value as the API shows it: eight bullets, then the last four characters if the value has at
 * least 16 (enough to tell two tokens apart, as card numbers are). Always eight bullets, so the length
 * is not shown; bullets are not field characters, so a mask sent back is refused, never stored.
 */
function maskValue(value: string): string {
  return value.length >= SHOW_TAIL_FROM ? BULLETS + value.slice(-4) : BULLETS;
}
