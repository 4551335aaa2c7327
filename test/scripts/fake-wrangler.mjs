#!/usr/bin/env node
// A stand-in for `wrangler` in the deploy script's test: records each call and answers like an account
// whose state is in FAKE_ACCOUNT (a JSON file: databases, queues, secrets).
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";

const statePath = process.env.FAKE_ACCOUNT;
const state = JSON.parse(readFileSync(statePath, "utf8"));
const args = process.argv.slice(2).filter((a, i, all) => a !== "--config" && all[i - 1] !== "--config");
appendFileSync(`${statePath}.calls`, `${args.join(" ")}\n`);
const save = () => writeFileSync(statePath, JSON.stringify(state));

const [command, sub, name] = args;
if (command === "d1" && sub === "list") console.log(JSON.stringify(state.databases));
else if (command === "d1" && sub === "create") {
  // Each new database its own id: …000000000001, …000000000002, in order of creation.
  state.databases.push({
    name,
    uuid: `11111111-2222-4333-8444-${String(state.databases.length + 1).padStart(12, "0")}`,
  });
  save();
} else if (command === "queues" && sub === "list") console.log(state.queues.join("\n"));
else if (command === "r2" && sub === "bucket" && name === "list")
  console.log((state.buckets ?? []).map((b) => `name: ${b}`).join("\n"));
else if (command === "r2" && sub === "bucket" && name === "create") {
  state.buckets = [...(state.buckets ?? []), args[3]];
  save();
} else if (command === "r2" && sub === "bucket" && name === "lifecycle") {
  const file = args[args.indexOf("--file") + 1];
  state.lifecycle = JSON.parse(readFileSync(file, "utf8"));
  save();
} else if (command === "queues" && sub === "create") {
  state.queues.push(name);
  save();
} else if (command === "secret" && sub === "list")
  console.log(JSON.stringify(state.secrets.map((n) => ({ name: n }))));
