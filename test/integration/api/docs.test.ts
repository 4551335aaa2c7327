import { version as swaggerUiVersion } from "swagger-ui-dist/package.json";
import { describe, expect, it } from "vitest";
import { call } from "../../support/api";

/** The policy's directives, each with its sources. */
function directives(policy: string | null): Record<string, string[]> {
  return Object.fromEntries(
    (policy ?? "").split(";").map((directive) => {
      const [name = "", ...sources] = directive.trim().split(/\s+/);
      return [name, sources];
    }),
  );
}

/** What /docs loads: every `src` and `href` of the page. */
const referencesOf = (html: string) =>
  [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map(([, url]) => url ?? "");

describe("API reference at /docs", () => {
  it("loads only files of this Worker, each under a policy that allows no other origin", async () => {
    const response = await call("GET", "/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).not.toMatch(/\/\//);

    const references = referencesOf(html);
    expect(references.sort()).toEqual([
      "/docs/reference.js",
      "/docs/swagger-ui-bundle.js",
      "/docs/swagger-ui.css",
    ]);
    const answers = [response, ...(await Promise.all(references.map((path) => call("GET", path))))];
    for (const answer of answers) {
      expect(answer.status, answer.url).toBe(200);
      expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
      const policy = directives(answer.headers.get("content-security-policy"));
      expect(policy["default-src"]).toEqual(["'none'"]);
      for (const directive of ["script-src", "style-src", "connect-src"]) {
        expect(policy[directive], directive).toEqual(["'self'"]);
      }
      // Inline images (the stylesheet's SVG icons), no other origin, no inline script or style anywhere.
      expect(policy["img-src"]).toEqual(["'self'", "data:"]);
      expect(Object.values(policy).flat()).not.toContain("'unsafe-inline'");
    }
  });

  it("serves the pinned Swagger UI, and starts it on this origin's document", async () => {
    const bundle = await call("GET", "/docs/swagger-ui-bundle.js");
    expect(bundle.headers.get("content-type")).toMatch(/javascript/);
    expect(await bundle.text()).toContain(`PACKAGE_VERSION:"${swaggerUiVersion}"`);
    expect((await call("GET", "/docs/swagger-ui.css")).headers.get("content-type")).toMatch(/^text\/css/);

    const start = await (await call("GET", "/docs/reference.js")).text();
    expect(start).toContain('url: "/openapi.json"');
    expect(start).toContain("validatorUrl: null");
    expect(start).not.toMatch(/\/\/[a-z]/i);
  });

  it("serves nothing else of the assets folder", async () => {
    for (const path of [
      "/docs/index.html",
      "/docs/swagger-initializer.js",
      "/index.html",
      "/swagger-ui-bundle.js",
    ]) {
      const response = await call("GET", path);
      expect(response.status, path).toBe(404);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    }
  });
});
