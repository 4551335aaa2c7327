/**
 * Imported WebCrypto keys, cached per isolate: importing a key costs more than signing a webhook body,
 * and one key signs every delivery of its endpoint. Bounded (oldest entry evicted first) so a
 * long-lived isolate does not grow with the number of endpoints; a key that failed to import is not
 * kept, so the next delivery reports the same error afresh.
 */
export function keyCache(maxKeys: number) {
  const keys = new Map<string, Promise<CryptoKey>>();
  return function cachedKey(cacheKey: string, importKey: () => Promise<CryptoKey>): Promise<CryptoKey> {
    const cached = keys.get(cacheKey);
    if (cached) return cached;
    if (keys.size >= maxKeys) {
      const oldest = keys.keys().next().value;
      if (oldest !== undefined) keys.delete(oldest);
    }
    const imported = importKey();
    imported.catch(() => {
      if (keys.get(cacheKey) === imported) keys.delete(cacheKey);
    });
    keys.set(cacheKey, imported);
    return imported;
  };
}
