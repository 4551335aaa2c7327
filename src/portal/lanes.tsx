import type { z } from "@hono/zod-openapi";
import { Hono } from "hono";
import type { LaneEntryOut } from "../api/endpoint-lanes";
import type { Answer } from "./api-client";
import type { EndpointView } from "./endpoint-form";
import type { PortalEnv } from "./guard";
import { failed, Page, ProblemBox, when } from "./layout";

/**
 * An ordered endpoint's lanes (docs/portal.md#ordered-lanes): which lanes hold deliveries, and what
 * waits behind what in one of them, for a customer asking why an event has not arrived yet.
 */
export const lanePages = new Hono<PortalEnv>();

type LaneEntryView = z.infer<typeof LaneEntryOut>;
export type LanePageView = {
  data: { lane: string; length: number; held: boolean; head: LaneEntryView | null }[];
  nextCursor: string | null;
};
type QueueView = { lane: string; length: number; held: boolean; data: LaneEntryView[] };

export const ORDERING_NAMES = {
  none: "none",
  endpoint: "per endpoint",
  key: "per ordering key",
} as const;

/** The API's page bound: a longer lane shows its first QUEUE_SHOWN, the ones sent soonest. */
const QUEUE_SHOWN = 100;

/** An ordering key as shown; "" is no key's, but the lane of ordering "endpoint" (and of keyless events). */
export const laneName = (lane: string) => (lane === "" ? "(endpoint lane)" : lane);

/** The lane's page; the key goes in the query, where any of its characters survives encoded. */
export const laneHref = (endpointId: string, lane: string) =>
  `/portal/endpoints/${endpointId}/lanes?${new URLSearchParams({ lane })}`;

const STATE_NAMES = {
  in_flight: "being sent",
  retry_scheduled: "retry scheduled",
  waiting: "waiting",
} as const;

/** When the entry's state changes next; null for one waiting behind the head. */
function nextChange(entry: LaneEntryView): string | null {
  switch (entry.state) {
    case "in_flight":
      return `outcome due by ${when(entry.at)}`;
    case "retry_scheduled":
      return `next attempt ${when(entry.at)}`;
    case "waiting":
      return null;
  }
}

/** A lane holds while its endpoint is disabled, the usual answer to "why has nothing arrived". */
const HELD = "yes: nothing is sent until the endpoint is enabled";

lanePages.get("/:id/lanes", async (c) => {
  const id = encodeURIComponent(c.req.param("id"));
  const lane = c.req.query("lane") ?? "";
  const [found, queue] = await Promise.all([
    c.var.api<{ endpoint: EndpointView }>("GET", `/webhooks/v1/endpoints/${id}`),
    c.var.api<QueueView>(
      "GET",
      `/webhooks/v1/endpoints/${id}/lanes/queue?${new URLSearchParams({ lane, limit: String(QUEUE_SHOWN) })}`,
    ),
  ]);
  if (!found.ok) return failed(c, "Ordered lane", found.problem);
  if (!queue.ok) return failed(c, "Ordered lane", queue.problem);
  const endpoint = found.body.endpoint;
  const q = queue.body;
  return c.html(
    <Page c={c} title={lane === "" ? "Endpoint lane" : `Lane ${lane}`}>
      <dl class="panel">
        <dt>Endpoint</dt>
        <dd>
          <a class="mono" href={`/portal/endpoints/${endpoint.id}`}>
            {endpoint.url}
          </a>
        </dd>
        <dt>Ordering</dt>
        <dd>{ORDERING_NAMES[endpoint.ordering]}</dd>
        <dt>Lane</dt>
        <dd class="mono">{laneName(q.lane)}</dd>
        <dt>Waiting</dt>
        <dd>{q.length}</dd>
        {q.length > 0 && (
          <>
            <dt>Held</dt>
            <dd class={q.held ? "status-disabled" : undefined}>{q.held ? HELD : "no"}</dd>
          </>
        )}
      </dl>
      {q.data.length === 0 ? (
        <p class="empty">Nothing waits in this lane.</p>
      ) : (
        <table>
          <caption class="hint">
            {q.length > q.data.length
              ? `The first ${q.data.length} of ${q.length}, in the order they will be sent`
              : "In the order they will be sent, one at a time"}
          </caption>
          <thead>
            <tr>
              <th scope="col">Position</th>
              <th scope="col">Sequence</th>
              <th scope="col">Delivery</th>
              <th scope="col">State</th>
              <th scope="col">When</th>
            </tr>
          </thead>
          <tbody>
            {q.data.map((entry) => (
              <tr>
                <td>{entry.position}</td>
                <td>{entry.sequence}</td>
                <td>
                  <a class="mono" href={`/portal/deliveries/${entry.deliveryId}`}>
                    {entry.deliveryId}
                  </a>
                </td>
                <td>{STATE_NAMES[entry.state]}</td>
                <td>{nextChange(entry) ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>,
  );
});

/** The endpoint page's section: its lanes that hold deliveries, each with its head, or why none shows. */
export function OrderedLanes({ endpointId, lanes }: { endpointId: string; lanes: Answer<LanePageView> }) {
  return (
    <section class="panel" aria-labelledby="lanes">
      <h2 id="lanes">Ordered lanes</h2>
      <p class="hint">
        Each lane sends one delivery at a time, in the order its events were accepted: a delivery waits until
        the ones ahead of it are delivered or have finally failed.
      </p>
      {!lanes.ok ? (
        <ProblemBox problem={lanes.problem} />
      ) : lanes.body.data.length === 0 ? (
        <p class="empty">No delivery waits in a lane.</p>
      ) : (
        <table>
          <caption class="hint">Lanes holding deliveries, by key</caption>
          <thead>
            <tr>
              <th scope="col">Lane</th>
              <th scope="col">Waiting</th>
              <th scope="col">Held</th>
              <th scope="col">Head</th>
            </tr>
          </thead>
          <tbody>
            {lanes.body.data.map((l) => (
              <tr>
                <td>
                  <a class="mono" href={laneHref(endpointId, l.lane)}>
                    {laneName(l.lane)}
                  </a>
                </td>
                <td>{l.length}</td>
                <td class={l.held ? "status-disabled" : undefined}>{l.held ? HELD : "no"}</td>
                <td>
                  {l.head ? [STATE_NAMES[l.head.state], nextChange(l.head)].filter(Boolean).join(" · ") : "—"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {lanes.ok && lanes.body.nextCursor && (
        <p>
          <a
            href={`/portal/endpoints/${endpointId}?${new URLSearchParams({ lanes_after: lanes.body.nextCursor })}#lanes`}
          >
            More lanes
          </a>
        </p>
      )}
    </section>
  );
}
