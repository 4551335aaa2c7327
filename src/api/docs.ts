import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
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
  app.get("/docs", docsPage);
}

/** Rendered in the reader's browser by Scalar from our own `/openapi.json`. */
const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>edge-webhooks API reference</title>
  </head>
  <body>
    <script id="api-reference" data-url="/openapi.json"></script>
    <script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference"></script>
  </body>
</html>`;

const docsPage = (c: Context) => c.html(html);
