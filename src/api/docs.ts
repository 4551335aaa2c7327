import type { OpenAPIHono } from "@hono/zod-openapi";
import { license, version } from "../../package.json";
import type { AppEnv } from "./auth";

/**
 * The API's description, generated from the route definitions: the OpenAPI document at
 * `/openapi.json` and a browsable reference at `/docs`.
 */
export function serveApiReference(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", { type: "http", scheme: "bearer" });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "edge-webhooks",
      version,
      description: "Signed, retried webhook delivery on Cloudflare Workers.",
      // package.json's SPDX identifier (the library types `info` as OpenAPI 3.0's, which has no `identifier`).
      license: { name: license, url: `https://spdx.org/licenses/${license}.html` },
    },
    // Every deployment has its own origin and serves its own document, so the server is relative:
    // "/" is the origin the document was fetched from (OpenAPI 3.1, Server Object). The reference at
    // /docs sends its requests there, and a generated client is given its base URL.
    servers: [{ url: "/", description: "The deployment that serves this document" }],
  });
  app.get("/docs", (c) => withPolicy(c.html(page)));
  app.get("/docs/reference.js", (c) => withPolicy(c.body(start, 200, { "content-type": JAVASCRIPT })));
  app.get("/docs/:file{swagger-ui-bundle\\.js|swagger-ui\\.css}", async (c) =>
    // The request's own headers go along, so the asset server can answer 304 to a browser's revalidation.
    withPolicy(
      await c.env.ASSETS.fetch(new Request(new URL(`/${c.req.param("file")}`, c.req.url), c.req.raw)),
    ),
  );
}

/**
 * The reference is Swagger UI (swagger-ui-dist, pinned in package.json), served by this Worker from
 * its static assets (wrangler.toml): it works offline and needs no other origin. Chosen over Scalar,
 * which the page loaded from a CDN before: Scalar's bundle injects inline styles, so it needs
 * `style-src 'unsafe-inline'`, and its npm package brings 189 packages; Swagger UI runs under the
 * policy below and comes as one package.
 */
const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>edge-webhooks API reference</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
  </head>
  <body>
    <div id="reference"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/reference.js"></script>
  </body>
</html>`;

/** No inline script under the policy: the page starts Swagger UI from a file of its own. */
const start = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#reference",
  deepLinking: true,
  // Swagger UI would send the document to its public validator for a badge.
  validatorUrl: null,
});
`;

const JAVASCRIPT = "text/javascript; charset=utf-8";

/**
 * This origin only: the page, its script and stylesheet come from /docs, "Try it out" calls the API
 * here (the document's server is "/"), and images are this origin's or inline (the stylesheet's SVG
 * icons). No inline script or style, no other origin.
 */
export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function withPolicy(response: Response): Response {
  const secured = new Response(response.body, response);
  secured.headers.set("content-security-policy", DOCS_CONTENT_SECURITY_POLICY);
  secured.headers.set("x-content-type-options", "nosniff");
  return secured;
}
