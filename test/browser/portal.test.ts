import type { Browser, Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalService } from "../../scripts/local-stack.mjs";
import type { OrganizationId } from "../../src/lib/ids";
import { signPortalToken } from "../../src/lib/portal-token";
import {
  apiOf,
  auditPage,
  eventually,
  launchChromium,
  type Received,
  startReceiver,
  watchErrors,
} from "./support";

/**
 * The customer portal as a customer uses it: Chromium against `wrangler dev` (local D1, Queues,
 * Durable Objects, as `npm run dev` runs it) and a receiver on 127.0.0.1. Each page is checked with
 * axe-core and kept as a screenshot in test-artifacts/portal/.
 */
type Service = Awaited<ReturnType<typeof startLocalService>>;

let service: Service;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let browser: Browser;
let api: ReturnType<typeof apiOf>;
let organizationId: string;

beforeAll(async () => {
  receiver = await startReceiver((path) => (/^\/(failing|unavailable)/.test(path) ? 500 : 200));
  service = await startLocalService({
    RETRY_SCHEDULE_SECONDS: "1",
    INLINE_RETRY_DELAYS_MS: "",
    DELIVERY_TIMEOUT_MS: "2000",
    AUTO_DISABLE_AFTER_SECONDS: "1",
    AUTO_DISABLE_MIN_FAILURES: "2",
  });
  api = apiOf(service.base);
  browser = await launchChromium();
  const { organization } = await api<{ organization: { id: string } }>(
    service.adminToken,
    "POST",
    "/admin/v1/organizations",
    { name: "Acme Legal" },
    201,
  );
  organizationId = organization.id;
});

afterAll(async () => {
  await browser?.close();
  await service?.stop();
  await receiver?.stop();
});

/** A portal link for the organization, as the platform would ask for it. */
async function portalLink(body: Record<string, unknown> = {}): Promise<string> {
  const path = `/admin/v1/organizations/${organizationId}/portal_sessions`;
  const { url } = await api<{ url: string }>(service.adminToken, "POST", path, body, 201);
  return url;
}

/** A browser page with cookies of its own, its errors watched (support.ts). */
async function newPage(viewport = { width: 1280, height: 900 }): Promise<{ page: Page }> {
  const context = await browser.newContext({ viewport });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: service.base });
  return { page: watchErrors(await context.newPage()) };
}

const publish = (type: string, data: Record<string, unknown>) =>
  api(service.adminToken, "POST", "/webhooks/v1/events", { organizationId, type, data }, 202);

type LaneQueue = {
  length: number;
  held: boolean;
  data: { deliveryId: string; sequence: number; position: number }[];
};

const deliveriesTo = (path: string) => receiver.received.filter((r: Received) => r.path === path);

describe("the customer portal", () => {
  it("lets a customer manage an endpoint and its deliveries from a link", async () => {
    const { page } = await newPage();
    const link = await portalLink({ theme: { accentColor: "#7c3aed" } });

    // The link opens a session; the token leaves the address bar, and the cookie is HttpOnly.
    await page.goto(link);
    await page.waitForURL(`${service.base}/portal/endpoints`);
    expect(page.url()).not.toContain("ps_");
    const [cookie] = await page.context().cookies();
    expect(cookie).toMatchObject({
      name: "portal_session",
      httpOnly: true,
      secure: true,
      sameSite: "Strict",
    });
    expect(await page.getByText("No endpoints yet").count()).toBe(1);
    await auditPage(page, "01-endpoints-empty");

    // Create an endpoint; bad input first: the API's own validation, shown by field.
    await page.getByRole("link", { name: "Add an endpoint" }).click();
    await page.getByLabel("URL", { exact: true }).fill("ftp://nope");
    await page.getByLabel("matter.*").check();
    await page.getByLabel("Payload filter").fill('{"path": "matterId", "eq": "m_1"}');
    await page.getByRole("button", { name: "Create endpoint" }).click();
    expect(await page.getByRole("alert").textContent()).toMatch(/url.*payloadFilter\.path/is);
    await auditPage(page, "02-endpoint-form-error");
    await page.getByLabel("URL", { exact: true }).fill(receiver.url("/orders"));
    // Only events about this matter: the one published below.
    await page.getByLabel("Payload filter").fill('{"path": "$.matterId", "in": ["m_1"]}');
    await page.getByLabel("Description").fill("Orders service");
    expect(await page.getByLabel("matter.*").isChecked()).toBe(true); // kept from the refused post
    await page.getByRole("button", { name: "Create endpoint" }).click();
    await page.getByRole("heading", { name: "Endpoint created" }).waitFor();
    await auditPage(page, "03-endpoint-created-secret");

    // Its secret, shown once, copied with the button.
    await page.getByRole("button", { name: "Copy" }).click();
    const secret = String(await page.evaluate("navigator.clipboard.readText()"));
    expect(secret).toMatch(/^whsec_/);
    expect(await page.getByLabel("Signing secret").inputValue()).toBe(secret);

    // A test send, with its result on the page.
    await page.getByRole("link", { name: "Go to the endpoint" }).click();
    await page.getByRole("button", { name: "Send a test" }).click();
    const result = page.getByRole("status").filter({ hasText: "Test message" });
    expect(await result.textContent()).toMatch(/Delivered.*200/s);
    expect(deliveriesTo("/orders")).toHaveLength(1);
    await auditPage(page, "04-endpoint-detail");

    // An event published through the API appears in the log, delivered and signed with the copied secret.
    await publish("matter.created", { matterId: "m_1", name: "Acme v. Globex" });
    await page.getByRole("navigation").getByRole("link", { name: "Deliveries" }).click();
    await eventually(async () => {
      await page.reload();
      return (await page.getByRole("cell", { name: "delivered" }).count()) === 1;
    });
    const [delivered] = deliveriesTo("/orders").slice(1);
    expect(delivered).toBeDefined();
    expect(() =>
      new Webhook(secret).verify(delivered?.body ?? "", delivered?.headers as Record<string, string>),
    ).not.toThrow();
    await auditPage(page, "05-deliveries");

    // Replay it from its page.
    await page.getByRole("row").filter({ hasText: "matter.created" }).getByRole("link").click();
    expect(await page.locator("main ol > li").first().textContent()).toContain("200");
    await auditPage(page, "06-delivery-attempts");
    await page.getByRole("button", { name: "Replay" }).click();
    expect(await page.getByRole("status").textContent()).toContain("Replay queued");
    await eventually(async () => deliveriesTo("/orders").length === 3);

    // Rotate the secret: a new one, shown once; the old one keeps signing through the grace.
    const endpointId = await page
      .getByRole("link", { name: /^evsub_/ })
      .first()
      .textContent();
    await page.goto(`${service.base}/portal/endpoints/${endpointId}`);
    await page.getByLabel("Previous secret valid for, hours").fill("1");
    await page.getByRole("button", { name: "Rotate secret" }).click();
    const rotated = await page.getByLabel("New signing secret").inputValue();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);

    // The catalog.
    await page.getByRole("navigation").getByRole("link", { name: "Event types" }).click();
    expect(await page.getByRole("heading", { name: "matter.created" }).count()).toBe(1);
    await auditPage(page, "07-event-types");
  });

  it("shows an auto-disabled endpoint and re-enables it", async () => {
    const key = await api<{ token: string }>(
      service.adminToken,
      "POST",
      `/admin/v1/organizations/${organizationId}/api_keys`,
      { name: "test" },
      201,
    );
    const { endpoint } = await api<{ endpoint: { id: string } }>(
      key.token,
      "POST",
      "/webhooks/v1/endpoints",
      { url: receiver.url("/failing"), eventTypeFilters: ["vault.*"] },
      201,
    );
    // Two failures over more than a second (AUTO_DISABLE_*) disable it.
    for (let i = 0; i < 4; i++) {
      await publish("vault.object.deleted", { vaultId: "v", objectId: `o${i}` });
      await new Promise((resolve) => setTimeout(resolve, 600));
    }
    await eventually(async () => {
      const found = await api<{ endpoint: { status: string } }>(
        key.token,
        "GET",
        `/webhooks/v1/endpoints/${endpoint.id}`,
        undefined,
        200,
      );
      return found.endpoint.status === "auto_disabled";
    }, 60_000);

    const { page } = await newPage();
    await page.goto(await portalLink());
    await page.waitForURL(/\/portal\/endpoints$/);
    await page.getByLabel("Status").selectOption("auto_disabled");
    await page.getByRole("button", { name: "Filter" }).click();
    const row = page.getByRole("row").filter({ hasText: "/failing" });
    expect(await row.textContent()).toContain("auto disabled");
    await auditPage(page, "08-endpoints-auto-disabled");
    await row.getByRole("link").click();
    expect(await page.getByText("after 2 failed attempts").count()).toBeGreaterThan(0);
    await page.getByRole("button", { name: "Enable" }).click();
    expect(await page.getByRole("status").textContent()).toContain("Enabled");
    expect(await page.locator("dd.status-active").textContent()).toBe("active");
  });

  it("gives a read-only session no way to change anything, and the server refuses if asked", async () => {
    const { page } = await newPage();
    await page.goto(await portalLink({ readOnly: true }));
    await page.waitForURL(/\/portal\/endpoints$/);
    expect(await page.getByText("Read only").count()).toBe(1);
    expect(await page.getByRole("link", { name: "Add an endpoint" }).count()).toBe(0);
    await page.getByRole("row").nth(1).getByRole("link").click();
    expect(await page.locator("form[method=post]").count()).toBe(0);
    await auditPage(page, "09-read-only-endpoint");

    // A hand-made form post (with the session's own CSRF token): the API refuses it.
    const cookie = (await page.context().cookies())[0]?.value ?? "";
    const sessionId = JSON.parse(
      Buffer.from(cookie.slice(3).split(".")[0] ?? "", "base64url").toString(),
    ).sessionId;
    const answer = await page.request.post(`${page.url()}/delete`, { form: { _csrf: sessionId } });
    expect(answer.status()).toBe(403);
    expect(await answer.text()).toContain("read-only");
  });

  it("shows the 401 page for an expired or tampered link, and nothing of the organization", async () => {
    const { token } = await signPortalToken(
      { SECRETS_KEY: service.secretsKey },
      { organizationId: organizationId as OrganizationId, readOnly: false, theme: {} },
      -60,
      Date.now(),
    );
    const { page } = await newPage();
    const expired = await page.goto(`${service.base}/portal/enter#${token}`);
    expect(expired?.status()).toBe(200); // the entrance itself; the exchange answers 401
    await page.getByRole("heading", { name: "This portal link has expired" }).waitFor();
    expect(await page.content()).not.toContain("evsub_");
    await auditPage(page, "10-expired-link");

    const link = await portalLink();
    const tampered = `${link.slice(0, -3)}${link.endsWith("A") ? "B" : "A"}xx`;
    await page.goto(tampered);
    await page.getByRole("heading", { name: "This portal link has expired" }).waitFor();
    const direct = await page.request.get(`${service.base}/portal/endpoints`);
    expect(direct.status()).toBe(401);
  });

  it("reads well on a phone", async () => {
    const { page } = await newPage({ width: 390, height: 844 });
    await page.goto(await portalLink());
    await page.waitForURL(/\/portal\/endpoints$/);
    const overflow = Number(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"));
    expect(overflow).toBeLessThanOrEqual(0);
    await auditPage(page, "11-endpoints-phone");
  });

  it("shows what waits in an ordered endpoint's lane, in the order it will be sent", async () => {
    const key = await api<{ token: string }>(
      service.adminToken,
      "POST",
      `/admin/v1/organizations/${organizationId}/api_keys`,
      { name: "lanes" },
      201,
    );
    // Not under /failing: the auto-disabled test's endpoint is told apart by that path.
    const { endpoint } = await api<{ endpoint: { id: string } }>(
      key.token,
      "POST",
      "/webhooks/v1/endpoints",
      { url: receiver.url("/unavailable/cases"), eventTypeFilters: ["case.*"], ordering: "endpoint" },
      201,
    );
    for (let i = 1; i <= 3; i++) await publish("case.created", { caseId: `case_${i}`, name: `Case ${i}` });
    // The head fails; once all three wait, the endpoint is disabled so its lane holds, and what is
    // in it stays put for the pages to show.
    const laneQueue = () =>
      api<LaneQueue>(
        key.token,
        "GET",
        `/webhooks/v1/endpoints/${endpoint.id}/lanes/queue?lane=`,
        undefined,
        200,
      );
    await eventually(async () => (await laneQueue()).length >= 2, 30_000);
    await api(key.token, "PATCH", `/webhooks/v1/endpoints/${endpoint.id}`, { status: "disabled" }, 200);
    const queue = await laneQueue();
    expect(queue.held).toBe(true);

    const { page } = await newPage();
    await page.goto(await portalLink());
    await page.waitForURL(/\/portal\/endpoints$/);
    await page.goto(`${service.base}/portal/endpoints/${endpoint.id}`);
    expect(await page.getByText("per endpoint", { exact: true }).count()).toBe(1);
    const lane = page
      .getByRole("region", { name: "Ordered lanes" })
      .getByRole("row")
      .filter({ hasText: "(endpoint lane)" });
    expect(await lane.getByRole("cell").nth(1).textContent()).toBe(String(queue.length));
    expect(await lane.getByRole("cell").nth(2).textContent()).toMatch(/^yes/);
    await auditPage(page, "12-endpoint-ordered-lanes");

    // The lane's page: its deliveries in the order they will be sent, each linking to its own page.
    await lane.getByRole("link", { name: "(endpoint lane)" }).click();
    await page.getByRole("heading", { name: "Endpoint lane" }).waitFor();
    const rows = page.locator("tbody tr");
    expect(await rows.getByRole("link").allTextContents()).toEqual(queue.data.map((e) => e.deliveryId));
    const sequences = (await rows.locator("td:nth-child(2)").allTextContents()).map(Number);
    expect(sequences).toEqual(queue.data.map((e) => e.sequence));
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    await auditPage(page, "13-ordered-lane");

    await rows.nth(1).getByRole("link").click();
    expect(await page.getByText("Waiting in lane").textContent()).toMatch(
      /^Waiting in lane \(endpoint lane\) at position 1, behind 1 delivery/,
    );
    await auditPage(page, "14-delivery-in-lane");

    // A lane holding nothing, its key shown as text whatever it holds.
    const empty = new URLSearchParams({ lane: "<b>none</b> & more" });
    await page.goto(`${service.base}/portal/endpoints/${endpoint.id}/lanes?${empty}`);
    await page.getByRole("heading", { name: "Lane <b>none</b> & more" }).waitFor();
    expect(await page.getByText("Nothing waits in this lane").count()).toBe(1);
    await auditPage(page, "15-ordered-lane-empty");
  });
});
