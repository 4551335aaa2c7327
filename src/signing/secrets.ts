import { bytesToBase64, randomBytes } from "../lib/base64";
import { SECRET_PREFIX } from "./standard-webhooks";

/** A new endpoint signing secret: `whsec_` + base64 of 24 random bytes, as Svix issues them. */
export function generateSigningSecret(): string {
  return SECRET_PREFIX + bytesToBase64(randomBytes(24));
}
