// Where the CPU of a delivery goes, on each side: a V8 CPU profile of the Worker's isolate, taken
// through wrangler dev's DevTools inspector (Chrome DevTools Protocol) over a burst at fan-out 1,
// beside the CPU the workerd processes used meanwhile. The Worker's own JavaScript is what Workers
// bills as CPU time deployed; the rest of workerd's CPU is, locally, the simulated D1, Queues and
// Durable Object storage (SQLite), the HTTP stack and the bench's receiver traffic, which deployed run
// on Cloudflare's side of a network call.
import { workerdCpu, workerdCpuSince } from "../local-stack.mjs";

/** Sampling interval of the profile, in microseconds. */
const SAMPLING_US = 500;

/** A DevTools session on the first target `inspector` (http://host:port) lists: send and await. */
async function devtools(inspector) {
  const targets = await (await fetch(`${inspector}/json`)).json();
  const url = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no DevTools target at ${inspector}/json`);
  // The inspector proxy takes DevTools connections from a local origin only.
  const socket = new WebSocket(url, { headers: { Origin: "http://localhost" } });
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  let next = 1;
  const waiting = new Map();
  socket.addEventListener("message", (message) => {
    const data = JSON.parse(String(message.data));
    const answer = waiting.get(data.id);
    if (!answer) return;
    waiting.delete(data.id);
    if (data.error) answer.reject(new Error(`${data.error.message} (${answer.method})`));
    else answer.resolve(data.result);
  });
  return {
    send(method, params = {}) {
      const id = next++;
      socket.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) => waiting.set(id, { resolve, reject, method }));
    },
    close: () => socket.close(),
  };
}

/**
 * Runs `work` under a CPU profile of the Worker's isolate. Returns what it resolved to, the workerd
 * processes' CPU ms meanwhile, and the isolate's sampled CPU ms by where it was spent (profileByPart).
 */
export async function profiled(inspector, work) {
  const session = await devtools(inspector);
  try {
    await session.send("Debugger.enable");
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: SAMPLING_US });
    const cpuBefore = workerdCpu();
    await session.send("Profiler.start");
    const result = await work();
    const { profile } = await session.send("Profiler.stop");
    const workerdMs = workerdCpuSince(cpuBefore);
    const sources = new Map();
    for (const node of profile.nodes) {
      const { scriptId } = node.callFrame;
      if (!scriptId || scriptId === "0" || sources.has(scriptId)) continue;
      const source = await session.send("Debugger.getScriptSource", { scriptId }).catch(() => null);
      sources.set(scriptId, moduleMarkers(source?.scriptSource ?? ""));
    }
    return { result, workerdMs, parts: profileByPart(profile, sources) };
  } finally {
    session.close();
  }
}

/**
 * The lines of a bundle where each of its modules starts: esbuild writes `// src/db/events.ts` (or
 * `// node_modules/hono/dist/…`) before each module of an unminified bundle.
 */
function moduleMarkers(source) {
  const markers = [];
  source.split("\n").forEach((line, index) => {
    // Any module's marker, wrangler's own (`.wrangler/tmp/…`, its templates) included, so that no
    // module's code is counted as the one before it.
    const match = /^\/\/ (\S+\.(?:[cm]?[jt]sx?))$/.exec(line);
    if (match) markers.push({ line: index, path: match[1].replace(/^(\.\.\/)+/, "") });
  });
  return markers;
}

/** What a module path is counted as: a folder of src/ or bench/, an npm package, or wrangler's. */
function partOf(path) {
  const packageName = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
  if (packageName) return packageName;
  if (!/^(src|bench)\//.test(path)) return "wrangler dev's own modules";
  const [top, folder] = path.split("/");
  return folder?.endsWith(".ts") || folder?.endsWith(".js") ? `${top}/${folder}` : `${top}/${folder}/`;
}

/**
 * Code outside the bundle: the runtime's own JavaScript (its D1, Queues and Durable Object APIs,
 * streams, …) by module, and its native built-ins (fetch, crypto, JSON, …) by function.
 */
function runtimePart({ url, functionName }) {
  if (!url) return `built-in ${functionName || "(anonymous)"}`;
  const module = url.replace(/^file:\/\//, "").split(/[/?#]/)[0];
  return `runtime ${module}`;
}

/**
 * Self time by part: each sample's time goes to the function it was in, named by its module's part;
 * V8's own categories stay as they are ("(garbage collector)", "(program)": native code outside
 * JavaScript), idle time is left out, and code outside the bundle is the runtime's, by module.
 */
export function profileByPart(profile, sources) {
  const partOfNode = new Map();
  for (const node of profile.nodes) {
    const { functionName, scriptId, lineNumber } = node.callFrame;
    let part;
    if (functionName.startsWith("(")) part = functionName;
    else {
      const markers = sources.get(scriptId) ?? [];
      const marker = markers.findLast((m) => m.line <= lineNumber);
      part = marker ? partOf(marker.path) : runtimePart(node.callFrame);
    }
    partOfNode.set(node.id, part);
  }
  const ms = new Map();
  profile.samples.forEach((nodeId, i) => {
    const part = partOfNode.get(nodeId) ?? "(unknown)";
    if (part === "(idle)" || part === "(root)") return;
    ms.set(part, (ms.get(part) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...ms].map(([part, partMs]) => ({ part, ms: partMs })).sort((a, b) => b.ms - a.ms);
}
