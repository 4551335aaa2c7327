/**
 * Event data too large to keep in its D1 row well (docs/scale.md#bulk-bytes-in-r2): above
 * `thresholdBytes` of JSON text (PAYLOAD_IN_R2_BYTES) it is one R2 object, `events/<organization>/<event>`,
 * and the row keeps the key. An R2 write costs more than a D1 row ($4.50 against $1.00 per million)
 * but keeping bytes in D1 costs 50 times R2's price, so R2 pays from about 6 KB kept 30 days; below
 * the threshold the data stays in the row. The objects expire by the bucket's lifecycle rule, set by
 * `npm run deploy` a little after retention drops their rows.
 */
export type PayloadStore = { bucket: R2Bucket; thresholdBytes: number };

const encoder = new TextEncoder();

/** Where an event's data goes: its key, once the data is in R2, or null when it stays in the row. */
export async function storePayload(
  store: PayloadStore,
  organizationId: string,
  eventId: string,
  json: string,
): Promise<string | null> {
  // JSON text is at least as many bytes as UTF-16 units; count bytes only past that bound.
  if (json.length <= store.thresholdBytes / 3 || encoder.encode(json).length <= store.thresholdBytes)
    return null;
  const key = `events/${organizationId}/${eventId}`;
  await store.bucket.put(key, json, { httpMetadata: { contentType: "application/json" } });
  return key;
}

/**
 * The JSON text of each key's data that R2 has. Rows go before their objects (the lifecycle rule
 * expires an object a day after its row at the latest), so a key left out is data lost: the caller
 * says what that means for it.
 */
export async function loadPayloads(
  store: PayloadStore | null,
  keys: Iterable<string>,
): Promise<Map<string, string>> {
  const wanted = [...new Set(keys)];
  if (wanted.length === 0) return new Map();
  if (!store) throw new Error("event data is in R2, and no PAYLOADS bucket is bound");
  const texts = await Promise.all(
    wanted.map(async (key): Promise<[string, string][]> => {
      const object = await store.bucket.get(key);
      return object ? [[key, await object.text()]] : [];
    }),
  );
  return new Map(texts.flat());
}
