import { listSigningSecretCiphertexts } from "../db/endpoint-secrets";
import { decryptSecret } from "../lib/secret-box";

/** The plaintext secrets that sign for an endpoint now, newest first (more than one during rotation). */
export async function loadSigningSecrets(env: Env, endpointId: string): Promise<string[]> {
  const ciphertexts = await listSigningSecretCiphertexts(env.DB, endpointId, new Date().toISOString());
  return Promise.all(ciphertexts.map((ciphertext) => decryptSecret(env.SECRETS_KEY, ciphertext)));
}
