import { base64ToBytes } from "../lib/base64";
import { hmacSha256Base64 } from "./hmac";

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the key is the base64 part of a
 * `whsec_` secret, the signed content `${msgId}.${timestamp}.${body}`, the header value one
 * `v1,<base64>` per secret, space-separated, so a receiver holding any live secret verifies it.
 */
export const SECRET_PREFIX = "whsec_";

export async function signStandardWebhooks(
  secrets: readonly string[],
  msgId: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const content = `${msgId}.${timestamp}.${body}`;
  const signatures = await Promise.all(
    secrets.map(
      async (secret) =>
        `v1,${await hmacSha256Base64(`std:${secret}`, () => base64ToBytes(secret.slice(SECRET_PREFIX.length)), content)}`,
    ),
  );
  return signatures.join(" ");
}
