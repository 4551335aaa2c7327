import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A real HTTP receiver on 127.0.0.1 for delivery tests (runs in Node, started by global-setup.ts).
 * Each test uses its own channel: `/r/<channel>` records every request; `PUT /_control/<channel>`
 * scripts the next answers (status, headers, body, a hang, or a body that stops halfway) and answers
 * by what a request's body includes,
 * `GET /_control/<channel>` returns what was received. Unscripted requests get 200.
 */
export type ScriptedAnswer = {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  hangMs?: number;
  /** Sends the status and the first half of `body`, declaring its whole length, and never the rest. */
  stallBody?: boolean;
};
export type ReceivedRequest = {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  receivedAt: number;
};

/** An answer for every request whose body includes `bodyIncludes`, before the script and the fallback. */
export type AnswerRule = { bodyIncludes: string; answer: ScriptedAnswer };

type Channel = {
  script: ScriptedAnswer[];
  fallback: ScriptedAnswer;
  rules: AnswerRule[];
  received: ReceivedRequest[];
};

export async function startReceiver(): Promise<{ port: number; close: () => Promise<void> }> {
  const channels = new Map<string, Channel>();
  const channel = (name: string) => {
    let c = channels.get(name);
    if (!c) {
      c = { script: [], fallback: { status: 200 }, rules: [], received: [] };
      channels.set(name, c);
    }
    return c;
  };
  const sockets = new Set<Socket>();

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const [, kind, name] = (req.url ?? "").split("?")[0]?.split("/") ?? [];
    if (kind === "_control" && name) {
      const c = channel(name);
      if (req.method === "PUT") {
        const {
          script = [],
          fallback,
          rules = [],
        } = JSON.parse(body) as {
          script?: ScriptedAnswer[];
          fallback?: ScriptedAnswer;
          rules?: AnswerRule[];
        };
        c.script = script;
        c.rules = rules;
        if (fallback) c.fallback = fallback;
        return send(res, { status: 204 });
      }
      return send(res, {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(c.received),
      });
    }
    if (kind === "r" && name) {
      const c = channel(name);
      c.received.push({
        method: req.method ?? "",
        path: req.url ?? "",
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body,
        receivedAt: Date.now(),
      });
      const answer =
        c.rules.find((rule) => body.includes(rule.bodyIncludes))?.answer ?? c.script.shift() ?? c.fallback;
      if (answer.hangMs) await new Promise((resolve) => setTimeout(resolve, answer.hangMs));
      if (!res.destroyed) send(res, answer);
      return;
    }
    send(res, { status: 404 });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, answer: ScriptedAnswer): void {
  const body = answer.body ?? "";
  if (answer.stallBody) {
    res.writeHead(answer.status ?? 200, { ...answer.headers, "content-length": String(body.length) });
    res.write(body.slice(0, body.length / 2));
    return;
  }
  res.writeHead(answer.status ?? 200, answer.headers ?? {});
  res.end(body);
}
