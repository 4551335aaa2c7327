import type { z } from "@hono/zod-openapi";
import { Hono } from "hono";
import type { DeliveryOut } from "../api/deliveries";
import { DELIVERY_STATUSES } from "../domain/delivery";
import type { PortalEnv } from "./guard";
import { laneHref, laneName } from "./lanes";
import { ActionForm, failed, Page, SelectField, TextField, when } from "./layout";

/** The delivery log: filtered, one delivery with its attempts, and replay. */
export const deliveryPages = new Hono<PortalEnv>();

type DeliveryView = z.infer<typeof DeliveryOut>;
/** Where a delivery waits in its endpoint's ordered lane: `position` deliveries are ahead of it. */
type LanePlace = { lane: string; sequence: number; position: number };
type AttemptView = {
  number: number;
  trigger: string;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
};

/** The log's filters, as the list route of the API takes them (it validates them). */
const FILTERS = ["endpoint_id", "status", "event_type", "since", "until", "cursor"] as const;

deliveryPages.get("/", async (c) => {
  const query = new URLSearchParams({ limit: "50" });
  for (const name of FILTERS) {
    const value = c.req.query(name);
    if (!value) continue;
    // A datetime-local field sends no zone: the portal's times are UTC.
    query.set(name, (name === "since" || name === "until") && value.length === 16 ? `${value}:00Z` : value);
  }
  const listed = await c.var.api<{ data: DeliveryView[]; nextCursor: string | null }>(
    "GET",
    `/webhooks/v1/deliveries?${query}`,
  );
  if (!listed.ok) return failed(c, "Deliveries", listed.problem);
  const next = new URLSearchParams(c.req.query());
  if (listed.body.nextCursor) next.set("cursor", listed.body.nextCursor);
  return c.html(
    <Page c={c} title="Deliveries" notice={c.req.query("notice")}>
      <form class="filters" method="get" action="/portal/deliveries" aria-label="Filters">
        <TextField name="endpoint_id" label="Endpoint id" value={c.req.query("endpoint_id") ?? ""} />
        <SelectField
          name="status"
          label="Status"
          options={[["", "Any"], ...DELIVERY_STATUSES.map((s) => [s, s] as const)]}
          selected={c.req.query("status") ?? ""}
        />
        <TextField name="event_type" label="Event type" value={c.req.query("event_type") ?? ""} />
        <TextField
          name="since"
          label="Since (UTC)"
          type="datetime-local"
          value={c.req.query("since") ?? ""}
        />
        <TextField
          name="until"
          label="Until (UTC)"
          type="datetime-local"
          value={c.req.query("until") ?? ""}
        />
        <div>
          <button type="submit">Filter</button>
        </div>
      </form>
      {listed.body.data.length === 0 ? (
        <p class="empty">No deliveries match. Deliveries appear here as events are published.</p>
      ) : (
        <table>
          <caption class="hint">Newest first</caption>
          <thead>
            <tr>
              <th scope="col">Delivery</th>
              <th scope="col">Event type</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last answer</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {listed.body.data.map((d) => (
              <tr>
                <td>
                  <a class="mono" href={`/portal/deliveries/${d.id}`}>
                    {d.id}
                  </a>
                </td>
                <td class="mono">{d.eventType}</td>
                <td class={`status-${d.status}`}>{d.status}</td>
                <td>{d.attemptCount}</td>
                <td class="mono">{d.lastStatusCode ?? d.lastError ?? "—"}</td>
                <td>{when(d.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {listed.body.nextCursor && (
        <p>
          <a href={`/portal/deliveries?${next}`}>Older deliveries</a>
        </p>
      )}
    </Page>,
  );
});

deliveryPages.get("/:id", async (c) => {
  const found = await c.var.api<{
    delivery: DeliveryView & { attempts: AttemptView[]; lane: LanePlace | null };
  }>("GET", `/webhooks/v1/deliveries/${c.req.param("id")}`);
  if (!found.ok) return failed(c, "Delivery", found.problem);
  const d = found.body.delivery;
  return c.html(
    <Page c={c} title={`Delivery ${d.id}`} notice={c.req.query("notice")}>
      <dl class="panel">
        <dt>Status</dt>
        <dd class={`status-${d.status}`}>{d.status}</dd>
        <dt>Event</dt>
        <dd class="mono">
          {d.eventType} · {d.eventId}
        </dd>
        <dt>Endpoint</dt>
        <dd>
          <a class="mono" href={`/portal/endpoints/${d.endpointId}`}>
            {d.endpointId}
          </a>
        </dd>
        <dt>Created</dt>
        <dd>{when(d.createdAt)}</dd>
        <dt>Delivered</dt>
        <dd>{when(d.deliveredAt)}</dd>
        {d.nextAttemptAt && (
          <>
            <dt>Next attempt</dt>
            <dd>{when(d.nextAttemptAt)}</dd>
          </>
        )}
        {d.lane && (
          <>
            <dt>Ordered lane</dt>
            <dd>
              Waiting in lane{" "}
              <a class="mono" href={laneHref(d.endpointId, d.lane.lane)}>
                {laneName(d.lane.lane)}
              </a>{" "}
              at position {d.lane.position}
              {d.lane.position === 0
                ? ", the lane's head"
                : `, behind ${d.lane.position} ${d.lane.position === 1 ? "delivery" : "deliveries"}`}{" "}
              (sequence {d.lane.sequence})
            </dd>
          </>
        )}
        {d.replayOf && (
          <>
            <dt>Replay of</dt>
            <dd>
              <a class="mono" href={`/portal/deliveries/${d.replayOf}`}>
                {d.replayOf}
              </a>
            </dd>
          </>
        )}
      </dl>
      <div class="actions">
        <ActionForm c={c} action={`/portal/deliveries/${d.id}/replay`} label="Replay" />
      </div>
      <h2>Attempts</h2>
      {d.attempts.length === 0 ? (
        <p class="empty">No attempt yet.</p>
      ) : (
        <ol>
          {d.attempts.map((a) => (
            <li>
              <p>
                {when(a.startedAt)} · {a.trigger.replace("_", " ")} · {a.durationMs} ms ·{" "}
                <strong>{a.statusCode ?? "no answer"}</strong>
                {a.error && <span class="mono"> {a.error}</span>}
              </p>
              {a.responseBody && <pre>{a.responseBody}</pre>}
            </li>
          ))}
        </ol>
      )}
    </Page>,
  );
});

deliveryPages.post("/:id/replay", async (c) => {
  const replayed = await c.var.api<{ delivery: DeliveryView }>(
    "POST",
    `/webhooks/v1/deliveries/${c.req.param("id")}/replay`,
  );
  if (!replayed.ok) return failed(c, "Replay", replayed.problem);
  return c.redirect(`/portal/deliveries/${replayed.body.delivery.id}?notice=Replay%20queued`, 303);
});
