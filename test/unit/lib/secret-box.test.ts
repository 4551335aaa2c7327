import { describe, expect, it } from "vitest";
import { keyRing, openSecret, sealSecret, UnreadableSecretError } from "../../../src/lib/secret-box";
import {
  SECRETS_KEY as KEY_A,
  OLD_KEY as KEY_B,
  OTHER_KEY as KEY_C,
  keyId,
  legacyCiphertext,
  openSealed,
  tampered,
} from "../../support/secrets";

const CONTEXT = "endpoint:evsub_1:signing-secret";

async function unreadable(promise: Promise<unknown>): Promise<UnreadableSecretError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnreadableSecretError);
  return error as UnreadableSecretError;
}

describe("secret box", () => {
  it("seals under the current key with its id, and opens only for the same context", async () => {
    const ring = await keyRing({ SECRETS_KEY: KEY_A });
    const sealed = await sealSecret(ring, "whsec_abc", CONTEXT);
    expect(sealed).toMatch(new RegExp(`^v2:${ring.current.id}:[A-Za-z0-9+/]+=*$`));
    expect(ring.current.id).toBe(await keyId(KEY_A));
    expect(await openSecret(ring, sealed, CONTEXT)).toBe("whsec_abc");
    // The documented form: AES-256-GCM under the key, the context as additional data.
    expect(await openSealed(sealed, KEY_A, CONTEXT)).toBe("whsec_abc");
    await unreadable(openSecret(ring, tampered(sealed), CONTEXT));
    const error = await unreadable(openSecret(ring, sealed, "endpoint:evsub_2:signing-secret"));
    expect(error.context).toBe("endpoint:evsub_2:signing-secret");
    expect(error.message).not.toContain("whsec_abc");
  });

  it("opens with any key of SECRETS_KEY_PREVIOUS, and names a key it does not have", async () => {
    const sealedUnderB = await sealSecret(await keyRing({ SECRETS_KEY: KEY_B }), "s", CONTEXT);
    const rotated = await keyRing({ SECRETS_KEY: KEY_A, SECRETS_KEY_PREVIOUS: ` ${KEY_C} ,${KEY_B},` });
    expect(rotated.previous).toHaveLength(2);
    expect(await openSecret(rotated, sealedUnderB, CONTEXT)).toBe("s");
    const withoutB = await keyRing({ SECRETS_KEY: KEY_A, SECRETS_KEY_PREVIOUS: KEY_C });
    const keyB = (await keyRing({ SECRETS_KEY: KEY_B })).current.id;
    expect((await unreadable(openSecret(withoutB, sealedUnderB, CONTEXT))).message).toContain(keyB);
  });

  it("opens the legacy form (no key id, no additional data) under any key of the ring", async () => {
    const legacy = await legacyCiphertext(KEY_B, "old");
    const ring = await keyRing({ SECRETS_KEY: KEY_A, SECRETS_KEY_PREVIOUS: KEY_B });
    expect(await openSecret(ring, legacy, CONTEXT)).toBe("old");
    await unreadable(openSecret(await keyRing({ SECRETS_KEY: KEY_A }), legacy, CONTEXT));
  });

  it("reports damaged forms as unreadable, and refuses a key that is not 32 bytes", async () => {
    const ring = await keyRing({ SECRETS_KEY: KEY_A });
    for (const damaged of [
      "",
      "not base64!",
      `v2:${ring.current.id}:AAAA`,
      "v9:x:y",
      `v2:${ring.current.id}:%%%`,
    ])
      await unreadable(openSecret(ring, damaged, CONTEXT));
    await expect(keyRing({ SECRETS_KEY: "c2hvcnQ=" })).rejects.toThrow(/32-byte/);
  });
});
