#!/usr/bin/env node
// `npm run receiver -- [--port 9000] [--secret whsec_…] [--status 200]`: a local webhook receiver that
// verifies Standard Webhooks signatures (with the `standardwebhooks` package) and prints each delivery.
// Answer with another --status (e.g. 500) to watch retries.
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "9000" },
    secret: { type: "string" },
    status: { type: "string", default: "200" },
  },
});
const verifier = values.secret ? new Webhook(values.secret) : null;

createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    let verdict = "not checked (no --secret)";
    if (verifier) {
      try {
        verifier.verify(body, req.headers);
        verdict = "valid";
      } catch (error) {
        verdict = `INVALID (${error.message})`;
      }
    }
    const attempt = req.headers["webhook-attempt"] ?? "?";
    console.log(
      `\n${new Date().toISOString()} ${req.method} ${req.url} attempt ${attempt}, signature ${verdict}`,
    );
    try {
      console.log(JSON.stringify(JSON.parse(body), null, 2));
    } catch {
      console.log(body);
    }
    res.writeHead(Number(values.status)).end();
  });
}).listen(Number(values.port), "127.0.0.1", () => {
  console.log(`Receiving on http://127.0.0.1:${values.port}/ (answering ${values.status})`);
});
