import { Hono } from "hono";
import type { PortalEnv } from "./guard";
import { failed, Page } from "./layout";

/** The event catalog: every type an endpoint may subscribe to, with its schema and an example. */
export const catalogPages = new Hono<PortalEnv>();

type EventTypeView = {
  type: string;
  description: string;
  stability: string;
  schema: unknown;
  example: Record<string, unknown>;
};

catalogPages.get("/", async (c) => {
  const listed = await c.var.api<{ data: EventTypeView[] }>("GET", "/webhooks/v1/event_types");
  if (!listed.ok) return failed(c, "Event types", listed.problem);
  return c.html(
    <Page c={c} title="Event types">
      <p class="hint">
        Subscribe an endpoint to a type, to every type under a prefix (<code>matter.*</code>), or to all (
        <code>*</code>).
      </p>
      {listed.body.data.map((t) => (
        <section class="panel" aria-labelledby={`type-${t.type}`}>
          <h2 id={`type-${t.type}`} class="mono">
            {t.type}
          </h2>
          <p>
            {t.description} <span class="badge">{t.stability}</span>
          </p>
          <details>
            <summary>JSON Schema</summary>
            <pre>{JSON.stringify(t.schema, null, 2)}</pre>
          </details>
          <details>
            <summary>Example</summary>
            <pre>{JSON.stringify(t.example, null, 2)}</pre>
          </details>
        </section>
      ))}
    </Page>,
  );
});
