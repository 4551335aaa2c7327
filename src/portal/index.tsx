import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getConfig } from "../config";
import { verifyPortalToken } from "../lib/portal-token";
import { type Api, apiClient } from "./api-client";
import { PORTAL_CSS, PORTAL_JS } from "./assets";
import { catalogPages } from "./catalog";
import { deliveryPages } from "./deliveries";
import { endpointPages } from "./endpoints";
import { endSession, type PortalEnv, requireSession, securityHeaders, startSession } from "./guard";
import { lanePages } from "./lanes";
import { Page } from "./layout";

/**
 * The customer portal (docs/portal.md): pages rendered by this Worker for one organization's
 * session, everything read and changed through the management API (`api`, see api-client.ts).
 */
export function portal(api: Api) {
  const app = new Hono<PortalEnv>();
  app.use("*", securityHeaders());
  // A form is a few kilobytes; nothing larger is read.
  app.post("*", (c, next) =>
    bodyLimit({
      maxSize: getConfig(c.env).maxPayloadBytes,
      onError: (c) => c.text("The form is too large", 413),
    })(c, next),
  );

  app.get("/assets/portal.css", (c) =>
    c.body(PORTAL_CSS, 200, { "content-type": "text/css; charset=utf-8" }),
  );
  app.get("/assets/portal.js", (c) =>
    c.body(PORTAL_JS, 200, { "content-type": "text/javascript; charset=utf-8" }),
  );

  // The link's page: its script posts the fragment's token here, and the answer sets the cookie.
  app.get("/enter", (c) =>
    c.html(
      <Page c={c} title="Opening the portal">
        <form id="enter" method="post" action="/portal/session">
          <input type="hidden" name="token" />
          <noscript>
            <p>The portal link needs JavaScript to open its session.</p>
          </noscript>
        </form>
        <p id="no-token" class="problem" hidden>
          This link has no session token. Ask for a new link.
        </p>
      </Page>,
    ),
  );
  app.post("/session", async (c) => {
    const { token } = await c.req.parseBody();
    const session = typeof token === "string" ? await verifyPortalToken(c.env, token, Date.now()) : null;
    if (typeof token !== "string" || !session) return unauthorized(c);
    startSession(c, token, session);
    return c.redirect("/portal/endpoints", 303);
  });
  app.post("/sign-out", (c) => {
    endSession(c);
    return c.redirect("/portal/signed-out", 303);
  });
  app.get("/signed-out", (c) =>
    c.html(
      <Page c={c} title="Signed out">
        <p>Open a new portal link to come back.</p>
      </Page>,
    ),
  );

  app.use("*", requireSession(unauthorized));
  app.use("*", async (c, next) => {
    c.set("api", apiClient(api, c, c.get("token")));
    await next();
  });
  app.get("/", (c) => c.redirect("/portal/endpoints", 303));
  app.route("/endpoints", endpointPages);
  app.route("/endpoints", lanePages);
  app.route("/deliveries", deliveryPages);
  app.route("/event-types", catalogPages);
  app.notFound((c) =>
    c.html(
      <Page c={c} title="Not found">
        <p>
          There is no such page. <a href="/portal/endpoints">Back to the endpoints</a>.
        </p>
      </Page>,
      404,
    ),
  );
  app.onError((error, c) => {
    console.error(JSON.stringify({ message: "portal page failed", path: c.req.path, error: String(error) }));
    return c.html(
      <Page c={c} title="Something went wrong">
        <p>The page could not be shown. Try again in a moment.</p>
      </Page>,
      500,
    );
  });
  return app;
}

/** An expired, tampered or missing session: a page that says so, and nothing else. */
function unauthorized(c: Context<PortalEnv>) {
  return c.html(
    <Page c={c} title="This portal link has expired">
      <p>The link or session is no longer valid. Ask the platform you came from for a new link.</p>
    </Page>,
    401,
  );
}
