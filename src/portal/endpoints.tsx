import { type Context, Hono } from "hono";
import type { Problem } from "./api-client";
import { EndpointForm, type EndpointView, endpointBody } from "./endpoint-form";
import type { PortalEnv } from "./guard";
import { type LanePageView, ORDERING_NAMES, OrderedLanes } from "./lanes";
import { ActionForm, failed, Page, ProblemBox, Secret, SelectField, TextField, when } from "./layout";

/** Endpoints: the list, create, one endpoint with its health and everything done to it. */
export const endpointPages = new Hono<PortalEnv>();

type Health = {
  status: string;
  disabledReason: { at: string; failures: number; lastError: string | null } | null;
  failingSince: string | null;
  failuresInStreak: number;
  lastSuccessAt: string | null;
  lastError: string | null;
  attemptsLast24h: number;
  successRateLast24h: number | null;
};

type Listing<T> = { data: T[]; nextCursor: string | null };

const STATUSES = ["active", "disabled", "auto_disabled"] as const;

endpointPages.get("/", async (c) => {
  const status = c.req.query("status") ?? "";
  const search = (c.req.query("q") ?? "").trim().toLowerCase();
  const cursor = c.req.query("cursor");
  const listed = await c.var.api<Listing<EndpointView>>(
    "GET",
    `/webhooks/v1/endpoints?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
  );
  if (!listed.ok) return failed(c, "Endpoints", listed.problem);
  const shown = listed.body.data.filter(
    (e) =>
      (status === "" || e.status === status) &&
      (search === "" || e.url.toLowerCase().includes(search) || e.description.toLowerCase().includes(search)),
  );
  const health = await Promise.all(
    shown.map(async (e) => {
      const answer = await c.var.api<{ health: Health }>("GET", `/webhooks/v1/endpoints/${e.id}/health`);
      return answer.ok ? answer.body.health : null;
    }),
  );
  return c.html(
    <Page c={c} title="Endpoints" notice={c.req.query("notice")}>
      {!c.var.session.readOnly && (
        <p>
          <a class="button" href="/portal/endpoints/new">
            Add an endpoint
          </a>
        </p>
      )}
      <form class="filters" method="get" action="/portal/endpoints" aria-label="Filters">
        <TextField name="q" label="URL or description" value={c.req.query("q") ?? ""} />
        <SelectField
          name="status"
          label="Status"
          options={[["", "Any"], ...STATUSES.map((s) => [s, s.replace("_", " ")] as const)]}
          selected={status}
        />
        <div>
          <button type="submit">Filter</button>
        </div>
      </form>
      {shown.length === 0 ? (
        <p class="empty">
          {listed.body.data.length === 0
            ? "No endpoints yet. Add one to start receiving webhooks."
            : "No endpoint matches these filters."}
        </p>
      ) : (
        <table>
          <caption class="hint">Endpoints and their health</caption>
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Status</th>
              <th scope="col">Event types</th>
              <th scope="col">Failure streak</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e, i) => (
              <tr>
                <td>
                  <a href={`/portal/endpoints/${e.id}`} class="mono">
                    {e.url}
                  </a>
                  {e.description && <div class="hint">{e.description}</div>}
                </td>
                <td class={`status-${e.status}`}>
                  {e.status.replace("_", " ")}
                  {e.disabledReason && <div class="hint">since {when(e.disabledReason.at)}</div>}
                </td>
                <td class="mono">{e.eventTypeFilters.join(", ")}</td>
                <td>{health[i]?.failuresInStreak ?? "—"}</td>
                <td class="mono">{health[i]?.lastError ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {listed.body.nextCursor && (
        <p>
          <a href={`/portal/endpoints?cursor=${listed.body.nextCursor}`}>Next page</a>
        </p>
      )}
    </Page>,
  );
});

endpointPages.get("/new", async (c) => renderNew(c));

endpointPages.post("/", async (c) => {
  const form = await c.req.parseBody({ all: true });
  const created = await c.var.api<{ endpoint: EndpointView } & NewKey>(
    "POST",
    "/webhooks/v1/endpoints",
    endpointBody(form as Record<string, string | string[]>, true),
  );
  if (!created.ok) return renderNew(c, created.problem, form as Record<string, string | string[]>);
  const { endpoint } = created.body;
  return c.html(
    <Page c={c} title="Endpoint created">
      <p>
        <span class="mono">{endpoint.url}</span> will receive its events, signed with this key.
      </p>
      <NewKeyShown shown={created.body} />
      <p>
        <a href={`/portal/endpoints/${endpoint.id}`}>Go to the endpoint</a>
      </p>
    </Page>,
    201,
  );
});

async function renderNew(
  c: Context<PortalEnv>,
  problem?: Problem,
  values?: Record<string, string | string[]>,
) {
  const types = await eventTypeNames(c);
  return c.html(
    <Page c={c} title="Add an endpoint">
      <ProblemBox problem={problem} />
      <EndpointForm c={c} action="/portal/endpoints" types={types} values={values} submit="Create endpoint" />
    </Page>,
    problem ? (problem.status as 422) : 200,
  );
}

endpointPages.get("/:id", async (c) => renderEndpoint(c, { notice: c.req.query("notice") }));

endpointPages.post("/:id", async (c) => {
  const form = (await c.req.parseBody({ all: true })) as Record<string, string | string[]>;
  const changed = await c.var.api(
    "PATCH",
    `/webhooks/v1/endpoints/${c.req.param("id")}`,
    endpointBody(form, false),
  );
  if (!changed.ok) return renderEndpoint(c, { problem: changed.problem, values: form });
  return c.redirect(`/portal/endpoints/${c.req.param("id")}?notice=Saved`, 303);
});

endpointPages.post("/:id/status", async (c) => {
  const form = await c.req.parseBody();
  const status = form.status === "active" ? "active" : "disabled";
  const changed = await c.var.api("PATCH", `/webhooks/v1/endpoints/${c.req.param("id")}`, { status });
  if (!changed.ok) return renderEndpoint(c, { problem: changed.problem });
  const notice = status === "active" ? "Enabled" : "Disabled";
  return c.redirect(`/portal/endpoints/${c.req.param("id")}?notice=${notice}`, 303);
});

endpointPages.post("/:id/delete", async (c) => {
  const deleted = await c.var.api("DELETE", `/webhooks/v1/endpoints/${c.req.param("id")}`);
  if (!deleted.ok) return renderEndpoint(c, { problem: deleted.problem });
  return c.redirect("/portal/endpoints?notice=Endpoint%20deleted", 303);
});

endpointPages.post("/:id/rotate", async (c) => {
  const form = await c.req.parseBody();
  const hours = Number(form.graceHours ?? 24);
  const rotated = await c.var.api<NewKey & { previousSecretExpiresAt: string }>(
    "POST",
    `/webhooks/v1/endpoints/${c.req.param("id")}/rotate_secret`,
    { previousSecretExpiresInSec: Number.isFinite(hours) ? Math.round(hours * 3600) : form.graceHours },
  );
  if (!rotated.ok) return renderEndpoint(c, { problem: rotated.problem });
  return c.html(
    <Page c={c} title="Secret rotated">
      <NewKeyShown shown={rotated.body} replacing />
      <p>The previous secret keeps signing until {when(rotated.body.previousSecretExpiresAt)}.</p>
      <p>
        <a href={`/portal/endpoints/${c.req.param("id")}`}>Back to the endpoint</a>
      </p>
    </Page>,
  );
});

endpointPages.post("/:id/test", async (c) => {
  const form = await c.req.parseBody();
  const eventType = typeof form.eventType === "string" && form.eventType !== "" ? form.eventType : undefined;
  const sent = await c.var.api<TestResult>("POST", `/webhooks/v1/endpoints/${c.req.param("id")}/test`, {
    ...(eventType ? { eventType } : {}),
  });
  if (!sent.ok) return renderEndpoint(c, { problem: sent.problem });
  return renderEndpoint(c, { test: sent.body });
});

endpointPages.post("/:id/recover", async (c) => {
  const form = await c.req.parseBody();
  const since = typeof form.since === "string" && form.since !== "" ? `${form.since}:00Z` : form.since;
  const recovered = await c.var.api<{ replayed: number }>(
    "POST",
    `/webhooks/v1/endpoints/${c.req.param("id")}/recover`,
    { since },
  );
  if (!recovered.ok) return renderEndpoint(c, { problem: recovered.problem });
  return c.redirect(
    `/portal/endpoints/${c.req.param("id")}?notice=${encodeURIComponent(`${recovered.body.replayed} failed deliveries replayed`)}`,
    303,
  );
});

type TestResult = {
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  responseBody: string | null;
  error?: string;
};

async function renderEndpoint(
  c: Context<PortalEnv>,
  shown: {
    notice?: string | undefined;
    problem?: Problem;
    values?: Record<string, string | string[]>;
    test?: TestResult;
  },
) {
  const id = c.req.param("id") ?? "";
  const [found, health, types] = await Promise.all([
    c.var.api<{ endpoint: EndpointView }>("GET", `/webhooks/v1/endpoints/${id}`),
    c.var.api<{ health: Health }>("GET", `/webhooks/v1/endpoints/${id}/health`),
    eventTypeNames(c),
  ]);
  if (!found.ok) return failed(c, "Endpoint", found.problem);
  const endpoint = found.body.endpoint;
  const h = health.ok ? health.body.health : null;
  const lanesAfter = c.req.query("lanes_after");
  // Only an ordered endpoint has lanes: its object is asked once the endpoint says it is one.
  const lanes =
    endpoint.ordering === "none"
      ? null
      : await c.var.api<LanePageView>(
          "GET",
          `/webhooks/v1/endpoints/${endpoint.id}/lanes?${new URLSearchParams({ limit: "50", ...(lanesAfter !== undefined && { cursor: lanesAfter }) })}`,
        );
  const status = shown.problem ? (shown.problem.status as 422) : 200;
  return c.html(
    <Page c={c} title={endpoint.url} notice={shown.notice}>
      <ProblemBox problem={shown.problem} />
      {shown.test && (
        <div class="panel" role="status">
          <h2>Test message</h2>
          <dl>
            <dt>Result</dt>
            <dd>{shown.test.ok ? "Delivered" : "Not delivered"}</dd>
            <dt>Status</dt>
            <dd>{shown.test.statusCode ?? "no answer"}</dd>
            <dt>Duration</dt>
            <dd>{shown.test.durationMs} ms</dd>
            {shown.test.error && (
              <>
                <dt>Error</dt>
                <dd class="mono">{shown.test.error}</dd>
              </>
            )}
          </dl>
          {shown.test.responseBody && <pre>{shown.test.responseBody}</pre>}
        </div>
      )}
      <section class="panel" aria-labelledby="health">
        <h2 id="health">Health</h2>
        <dl>
          <dt>Status</dt>
          <dd class={`status-${endpoint.status}`}>{endpoint.status.replace("_", " ")}</dd>
          <dt>Ordering</dt>
          <dd>{ORDERING_NAMES[endpoint.ordering]}</dd>
          {endpoint.disabledReason && (
            <>
              <dt>Disabled</dt>
              <dd>
                {when(endpoint.disabledReason.at)}{" "}
                {endpoint.disabledReason.cause === "gone"
                  ? "when the receiver answered 410 Gone"
                  : `after ${endpoint.disabledReason.failures} failed attempts`}
                {endpoint.disabledReason.cause !== "gone" && endpoint.disabledReason.lastError && (
                  <span class="mono">: {endpoint.disabledReason.lastError}</span>
                )}
              </dd>
            </>
          )}
          <dt>Failure streak</dt>
          <dd>
            {h ? `${h.failuresInStreak}${h.failingSince ? ` since ${when(h.failingSince)}` : ""}` : "—"}
          </dd>
          <dt>Last success</dt>
          <dd>{when(h?.lastSuccessAt)}</dd>
          <dt>Last error</dt>
          <dd class="mono">{h?.lastError ?? "—"}</dd>
          <dt>Last 24 hours</dt>
          <dd>
            {h && h.successRateLast24h !== null
              ? `${h.attemptsLast24h} attempts, ${Math.round(h.successRateLast24h * 100)}% delivered`
              : "no attempts"}
          </dd>
        </dl>
        <p>
          <a href={`/portal/deliveries?endpoint_id=${endpoint.id}`}>This endpoint's deliveries</a>
        </p>
      </section>
      {lanes && <OrderedLanes endpointId={endpoint.id} lanes={lanes} />}
      <div class="actions">
        {endpoint.status === "active" ? (
          <ActionForm c={c} action={`/portal/endpoints/${id}/status`} label="Disable">
            <input type="hidden" name="status" value="disabled" />
          </ActionForm>
        ) : (
          <ActionForm c={c} action={`/portal/endpoints/${id}/status`} label="Enable">
            <input type="hidden" name="status" value="active" />
          </ActionForm>
        )}
        <ActionForm c={c} action={`/portal/endpoints/${id}/test`} label="Send a test">
          <span>
            <label for="test-type">Event type (empty: webhook.test)</label>
            <input id="test-type" name="eventType" list="event-types" />
            <datalist id="event-types">
              {types.map((t) => (
                <option value={t} />
              ))}
            </datalist>
          </span>
        </ActionForm>
        <ActionForm c={c} action={`/portal/endpoints/${id}/rotate`} label="Rotate secret">
          <span>
            <label for="grace">Previous secret valid for, hours</label>
            <input id="grace" name="graceHours" inputmode="numeric" value="24" />
          </span>
        </ActionForm>
        <ActionForm c={c} action={`/portal/endpoints/${id}/recover`} label="Recover failed deliveries">
          <span>
            <label for="since">Failed since (UTC)</label>
            <input id="since" name="since" type="datetime-local" required />
          </span>
        </ActionForm>
        <ActionForm c={c} action={`/portal/endpoints/${id}/delete`} label="Delete endpoint" danger />
      </div>
      {c.var.session.readOnly ? (
        <section aria-labelledby="settings">
          <h2 id="settings">Settings</h2>
          <pre>{JSON.stringify({ ...endpoint, disabledReason: undefined }, null, 2)}</pre>
        </section>
      ) : (
        <section aria-labelledby="settings">
          <h2 id="settings">Settings</h2>
          <EndpointForm
            c={c}
            action={`/portal/endpoints/${id}`}
            types={types}
            endpoint={endpoint}
            values={shown.values}
            submit="Save changes"
          />
        </section>
      )}
    </Page>,
    status,
  );
}

/** The catalog's type names, for the filters and the test's type. */
export async function eventTypeNames(c: Context<PortalEnv>): Promise<string[]> {
  const answer = await c.var.api<{ data: { type: string }[] }>("GET", "/webhooks/v1/event_types");
  return answer.ok ? answer.body.data.map((t) => t.type) : [];
}

/** What creating a key shows (api/endpoint-schemas.ts NewKeyOut): an HMAC secret, or a public key. */
type NewKey = { signingSecret?: string; verificationKey?: string };

function NewKeyShown({ shown, replacing }: { shown: NewKey; replacing?: boolean }) {
  const [label, value] = shown.verificationKey
    ? ["verification key (public, Ed25519)", shown.verificationKey]
    : ["signing secret", shown.signingSecret ?? ""];
  return (
    <Secret
      label={replacing ? `New ${label}` : `${label[0]?.toUpperCase()}${label.slice(1)}`}
      value={value}
    />
  );
}
