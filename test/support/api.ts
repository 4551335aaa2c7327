import { exports } from "cloudflare:workers";
import { expect, inject, vi } from "vitest";
import type { PublishRequest, PublishResult } from "../../src/api/rpc";
import type { OrganizationId } from "../../src/lib/ids";
import type { AnswerRule, ReceivedRequest, ScriptedAnswer } from "./receiver";

/** Drives the Worker through its real fetch handler, as a client would. */
export const ADMIN_TOKEN = "test-admin-token";

type CallOptions = { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> };

export async function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  return exports.default.fetch(`https://webhooks.test${path}`, { method, headers, body });
}

// biome-ignore lint/suspicious/noExplicitAny: tests inspect response bodies field by field
type Json = any;

/** Calls and asserts the status, returning the parsed JSON body. */
export async function callOk(
  method: string,
  path: string,
  status: number,
  options: CallOptions = {},
): Promise<Json> {
  const response = await call(method, path, options);
  const text = await response.text();
  expect(response.status, `${method} ${path} answered ${text}`).toBe(status);
  return text ? JSON.parse(text) : null;
}

export async function createOrganization(name = "Acme"): Promise<{ id: OrganizationId; token: string }> {
  const { organization } = await callOk("POST", "/admin/v1/organizations", 201, {
    token: ADMIN_TOKEN,
    body: { name },
  });
  const { token } = await callOk("POST", `/admin/v1/organizations/${organization.id}/api_keys`, 201, {
    token: ADMIN_TOKEN,
    body: { name: "test key" },
  });
  return { id: organization.id, token };
}

/** Another API key of the organization, limited to `scopes`; returns its token. */
export async function createApiKey(organizationId: string, scopes: string[]): Promise<string> {
  const { token } = await callOk("POST", `/admin/v1/organizations/${organizationId}/api_keys`, 201, {
    token: ADMIN_TOKEN,
    body: { name: `scopes ${scopes.join(",")}`, scopes },
  });
  return token;
}

export async function createEndpoint(
  token: string,
  settings: Record<string, unknown>,
): Promise<{ endpoint: Json; signingSecret: string }> {
  return callOk("POST", "/webhooks/v1/endpoints", 201, { token, body: settings });
}

export async function publish(
  organizationId: string,
  type: string,
  data: unknown,
  extra: Record<string, unknown> = {},
) {
  const { event } = await callOk("POST", "/webhooks/v1/events", 202, {
    token: ADMIN_TOKEN,
    body: { organizationId, type, data, ...extra },
  });
  return event as { id: string; type: string; occurredAt: string };
}

/** One delivery with its attempts. */
export async function deliveryDetail(token: string, id: string): Promise<Json> {
  return (await callOk("GET", `/webhooks/v1/deliveries/${id}`, 200, { token })).delivery;
}

/** Publishes over the Publisher RPC entrypoint, as another Worker would through a service binding. */
export async function publishRpc(request: PublishRequest): Promise<PublishResult> {
  // The stub's return type adds disposal to each member of the union, which defeats narrowing on `ok`.
  return (await exports.Publisher.publish(request)) as PublishResult;
}

/** A fresh channel of the test receiver: its URL, and ways to script it and read what it got. */
export function receiverChannel() {
  const origin = `http://127.0.0.1:${inject("receiverPort")}`;
  const name = crypto.randomUUID();
  return {
    url: `${origin}/r/${name}`,
    async script(script: ScriptedAnswer[], fallback?: ScriptedAnswer, rules: AnswerRule[] = []) {
      await fetch(`${origin}/_control/${name}`, {
        method: "PUT",
        body: JSON.stringify({ script, fallback, rules }),
      });
    },
    async received(): Promise<ReceivedRequest[]> {
      return (await fetch(`${origin}/_control/${name}`)).json();
    },
  };
}

/** Polls until `check` returns a value (not undefined/false), within a bound; never a fixed sleep. */
export function eventually<T>(check: () => Promise<T | undefined | false>, timeout = 15_000): Promise<T> {
  return vi.waitUntil(async () => (await check()) || undefined, { timeout, interval: 50 }) as Promise<T>;
}

/** Waits for a delivery of the organization matching `query` to leave `pending`. */
export async function settledDeliveries(token: string, query: string, count: number, timeout?: number) {
  return eventually(async () => {
    const { data } = await callOk("GET", `/webhooks/v1/deliveries?${query}`, 200, { token });
    return data.length >= count && data.every((d: { status: string }) => d.status !== "pending")
      ? data
      : undefined;
  }, timeout);
}
