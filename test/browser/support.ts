import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { expect } from "vitest";

/**
 * What the portal's browser tests drive: Debian's Chromium (CHROMIUM_PATH, else /usr/bin/chromium;
 * `.ci/run` installs it), a receiver on 127.0.0.1, the API of the `wrangler dev` under test, and an
 * accessibility check and a screenshot of each page.
 */
export const ARTIFACTS = join(import.meta.dirname, "../../test-artifacts/portal");

export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    throw new Error(`No Chromium at ${executablePath}: apt-get install -y chromium, or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath, args: ["--no-sandbox"] });
}

export type Received = { path: string; headers: IncomingHttpHeaders; body: string };

/** An HTTP receiver answering `status(path)` (200 unless told), keeping what it got. */
export async function startReceiver(status: (path: string) => number = () => 200) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(status(path), { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** JSON calls on the service's API with `token`; throws unless the status is `expected`. */
export function apiOf(base: string) {
  return async <T = Record<string, unknown>>(
    token: string,
    method: string,
    path: string,
    body: unknown,
    expected: number,
  ): Promise<T> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status !== expected) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}

/** What each page logged as an error (a Content-Security-Policy violation, a script error). */
const pageErrors = new WeakMap<Page, string[]>();

/** Starts keeping `page`'s console errors and uncaught script errors, for auditPage to refuse. */
export function watchErrors(page: Page): Page {
  const errors: string[] = [];
  pageErrors.set(page, errors);
  page.on("console", (message) => {
    // A page answered with an error status is the test's to check, not a fault of the page.
    if (message.type() === "error" && !/status of (401|403|404|422)/.test(message.text())) {
      errors.push(message.text());
    }
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  return page;
}

const axeSource = readFileSync(join(import.meta.dirname, "../../node_modules/axe-core/axe.min.js"), "utf8");

/**
 * Runs axe-core on the page (evaluated through the DevTools protocol, which the page's CSP does not
 * govern, so the policy under test stays as shipped), fails on any serious or critical violation or
 * on any error the page logged so far (watchErrors), and keeps a full-page screenshot named `name`.
 */
export async function auditPage(page: Page, name: string): Promise<void> {
  expect(pageErrors.get(page) ?? [], `errors logged by ${name}`).toEqual([]);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  await page.evaluate(axeSource);
  // A string, evaluated in the page: this file is typed for Node, without the DOM's names.
  const { violations } = (await page.evaluate("axe.run()")) as { violations: AxeViolation[] };
  const serious = violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  expect(serious, `axe on ${name}`).toEqual([]);
}

type AxeViolation = { id: string; impact: string; help: string; nodes: { target: string[] }[] };

/** Polls `check` until it returns a value, within `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
