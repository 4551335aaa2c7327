import type { Context } from "hono";

/**
 * The portal's one way to read or change anything: the management API itself, called in the same
 * invocation (no network) with the session's token as the bearer. Every rule — validation, caps, the
 * URL policy, tenancy, read-only — is the API's; the portal only renders what it answers.
 */
export type Api = {
  request(path: string, init: RequestInit, env: Env, ctx: ExecutionContext): Response | Promise<Response>;
};

/** An API answer: its status and parsed body (a problem+json body on errors). */
export type Answer<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; problem: Problem };

export type Problem = {
  title: string;
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
};

export type ApiCall = <T>(method: string, path: string, body?: unknown) => Promise<Answer<T>>;

/** Calls on `api` as the session whose token is `token`, within the request `c`. */
export function apiClient(api: Api, c: Context, token: string): ApiCall {
  return async <T>(method: string, path: string, body?: unknown): Promise<Answer<T>> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    // The API counts refused credentials per client address: the portal's calls are its visitor's.
    const address = c.req.header("cf-connecting-ip");
    if (address) headers["cf-connecting-ip"] = address;
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      const json = new TextEncoder().encode(JSON.stringify(body));
      // Declared, as a client's would be, so the API's body bounds (api/app.ts) apply to it too.
      headers["content-type"] = "application/json";
      headers["content-length"] = String(json.byteLength);
      init.body = json;
    }
    const ctx = c.executionCtx as unknown as ExecutionContext;
    const response = await api.request(`https://portal.internal${path}`, init, c.env, ctx);
    if (response.status === 204) return { ok: true, status: 204, body: undefined as T };
    const parsed = (await response.json()) as unknown;
    return response.ok
      ? { ok: true, status: response.status, body: parsed as T }
      : { ok: false, status: response.status, problem: parsed as Problem };
  };
}
