import { hmacSha256Base64 } from "./hmac";

/**
 * Convoy's "advanced" signatures, as Marble's receivers expect: `t=<unix>,v1=<base64>[,v1=<base64>…]`,
 * signed content `${t},${body}`, and the key is the secret string's own UTF-8 bytes.
 */
export async function signConvoy(
  secrets: readonly string[],
  timestamp: number,
  body: string,
): Promise<string> {
  const content = `${timestamp},${body}`;
  const signatures = await Promise.all(
    secrets.map((secret) =>
      hmacSha256Base64(`convoy:${secret}`, () => new TextEncoder().encode(secret), content),
    ),
  );
  return [`t=${timestamp}`, ...signatures.map((s) => `v1=${s}`)].join(",");
}
