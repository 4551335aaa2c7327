import { describe, expect, it } from "vitest";
import {
  type EndpointId,
  type EventId,
  fanOutDeliveryId,
  idPattern,
  newDeliveryId,
  newEventId,
  replayDeliveryId,
  ulid,
} from "../../../src/lib/ids";

describe("ids", () => {
  it("sort in creation order, even within one millisecond", () => {
    const now = Date.now();
    const ids = Array.from({ length: 200 }, () => ulid(now));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ulid(now + 1) > (ids.at(-1) ?? "")).toBe(true);
  });

  it("derive one delivery id per (event, endpoint), sortable with the event", async () => {
    const event = newEventId();
    const a = await fanOutDeliveryId(event, "evsub_A" as EndpointId);
    expect(await fanOutDeliveryId(event, "evsub_A" as EndpointId)).toBe(a);
    expect(await fanOutDeliveryId(event, "evsub_B" as EndpointId)).not.toBe(a);
    expect(a.slice(4, 14)).toBe(event.slice(4, 14));
    expect(await fanOutDeliveryId(newEventId() as EventId, "evsub_A" as EndpointId)).not.toBe(a);
  });

  it("derive the same delivery id as every version before (a fan-out run again after a deploy finds its rows)", async () => {
    const id = await fanOutDeliveryId(
      "evt_01M8QZCDDM7HB0S0X08WC16SCK" as EventId,
      "evsub_01M8QZCDCY59M89GBGB7PSDJPQ" as EndpointId,
    );
    expect(id).toBe("dlv_01M8QZCDDMVMD3R225Y82BTZSP");
  });

  it("tell each kind's ids apart from anything else", async () => {
    const event = newEventId();
    for (const id of [
      newDeliveryId(),
      replayDeliveryId(event),
      await fanOutDeliveryId(event, "evsub_A" as EndpointId),
    ]) {
      expect(idPattern("delivery").test(id), id).toBe(true);
    }
    expect(idPattern("event").test(event)).toBe(true);
    for (const other of [
      "",
      "dlv_",
      event,
      `dlv_${event.slice(4).toLowerCase()}`,
      `dlv_${event.slice(4)}0`,
      `dlv_${event.slice(5)}`,
    ]) {
      expect(idPattern("delivery").test(other), other).toBe(false);
    }
    expect(idPattern("delivery").test(`dlv_${event.slice(4, -1)}U`)).toBe(false); // not in the alphabet
  });
});
