import type { Context } from "hono";

/**
 * A browsable API reference at `/docs`, rendered in the reader's browser by Scalar from our own
 * `/openapi.json`; nothing is bundled into the Worker.
 */
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

export const docsPage = (c: Context) => c.html(html);
