// Load for the HTTP benchmarks, from Node so that the generator takes little of the server's CPU. One JSON line on
// stdout per run. Modes:
//   ceiling  closed loop (autocannon): GET a path, or `--checkout` create-then-pay sequences with a fresh
//            Idempotency-Key per request, each connection signed in as its own buyer
//   open     open loop: GET a path, or `--pay` pre-made orders, at a fixed rate; each request's latency counts from
//            the moment it was due, so a stall delays every request behind it and shows (autocannon, wrk and hey
//            are closed loop and would wait politely instead)
//   burst    every buyer at once: GET a path once each, or `--checkout` one order each (create, then pay if
//            created); reports the time until every buyer has its answer
//
//   node bench/load.mjs ceiling --url U [--path P [--header name=value] | --checkout] --connections N --seconds S
//                               [--buyers FILE]
//   node bench/load.mjs open --url U [--path P [--header name=value] | --pay FILE] --rate R --seconds S
//   node bench/load.mjs burst --url U [--path P | --checkout] --buyers FILE
// A buyers FILE is JSON: {"product_id": 1, "tokens": ["..."]}; a pay FILE: {"orders": [[token, order_id], ...]}.

import http from "node:http";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import autocannon from "autocannon";

const { positionals, values: options } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string" },
    path: { type: "string" },
    checkout: { type: "boolean", default: false },
    pay: { type: "string" },
    buyers: { type: "string" },
    connections: { type: "string", default: "16" },
    seconds: { type: "string", default: "10" },
    rate: { type: "string" },
    header: { type: "string", multiple: true, default: [] },
  },
});
const mode = positionals[0];
const base = new URL(options.url);
const seconds = Number(options.seconds);
const readJson = (file) => JSON.parse(readFileSync(file, "utf8"));
// --header name=value (repeatable): sent with every GET
const getHeaders = Object.fromEntries(options.header.map((pair) => [pair.split("=")[0], pair.slice(pair.indexOf("=") + 1)]));

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(latencies, extra) {
  const sorted = Float64Array.from(latencies).sort();
  return {
    answers: sorted.length,
    p50_ms: percentile(sorted, 50),
    p99_ms: percentile(sorted, 99),
    p999_ms: percentile(sorted, 99.9),
    max_ms: sorted.length ? sorted[sorted.length - 1] : null,
    ...extra,
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 2048 });

// One request; resolves with {status, body} (never rejects: a refused connection is status 0). The body is read
// as text only when `keepBody` (creating an order, to pay it); otherwise it is drained unread, so that the sender's
// own CPU stays small beside the server's.
function send(method, path, headers = {}, body = null, keepBody = false) {
  return new Promise((resolve) => {
    const payload = body === null ? null : JSON.stringify(body);
    const request = http.request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method,
        path,
        headers: payload === null ? headers : { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => keepBody && chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode, body: keepBody ? Buffer.concat(chunks).toString() : "" }),
        );
      },
    );
    request.on("error", (error) => resolve({ status: 0, body: String(error) }));
    if (payload !== null) request.write(payload);
    request.end();
  });
}

function tally(statuses, status) {
  statuses[status] = (statuses[status] || 0) + 1;
}

async function ceiling() {
  const buyers = options.buyers ? readJson(options.buyers) : null;
  let next = 0;
  const signIn = (context) => {
    context.token ??= buyers.tokens[next++ % buyers.tokens.length];
    return { authorization: `Bearer ${context.token}`, "content-type": "application/json" };
  };
  const requests = options.checkout
    ? [
        {
          method: "POST",
          path: "/api/v1/orders",
          setupRequest: (request, context) => ({
            ...request,
            headers: { ...signIn(context), "idempotency-key": randomUUID() },
            body: JSON.stringify({ items: [{ product_id: buyers.product_id, quantity: 1 }] }),
          }),
          onResponse: (status, body, context) => {
            context.order = status === 201 ? JSON.parse(body).id : null;
          },
        },
        {
          method: "POST",
          setupRequest: (request, context) => ({
            ...request,
            path: `/api/v1/orders/${context.order}/pay`,
            headers: { ...signIn(context), "idempotency-key": randomUUID() },
          }),
        },
      ]
    : [{ method: "GET", path: options.path, headers: getHeaders }];
  const result = await autocannon({
    url: base.origin,
    connections: Number(options.connections),
    duration: seconds,
    requests,
  });
  return {
    answers: result.requests.total,
    rate: result.requests.total / seconds,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function openLoop() {
  const rate = Number(options.rate);
  const total = Math.round(rate * seconds);
  const orders = options.pay ? readJson(options.pay).orders : null;
  if (orders && orders.length < total) throw new Error(`${total} payments at this rate, but only ${orders.length} orders`);
  const latencies = [];
  const statuses = {};
  const pending = [];
  const start = performance.now();
  let sent = 0;
  await new Promise((done) => {
    const tick = () => {
      const now = performance.now();
      while (sent < total && start + (sent * 1000) / rate <= now) {
        const due = start + (sent * 1000) / rate;
        const request = orders
          ? send("POST", `/api/v1/orders/${orders[sent][1]}/pay`, {
              authorization: `Bearer ${orders[sent][0]}`,
              "idempotency-key": randomUUID(),
            })
          : send("GET", options.path, getHeaders);
        pending.push(
          request.then(({ status }) => {
            latencies.push(performance.now() - due);
            tally(statuses, status);
          }),
        );
        sent += 1;
      }
      if (sent < total) setTimeout(tick, 1);
      else done();
    };
    tick();
  });
  await Promise.all(pending);
  return summary(latencies, { offered_rate: rate, statuses });
}

async function burst() {
  const buyers = readJson(options.buyers);
  const statuses = {};
  const latencies = [];
  const start = performance.now();
  await Promise.all(
    buyers.tokens.map(async (token) => {
      const headers = { authorization: `Bearer ${token}` };
      if (!options.checkout) {
        const { status } = await send("GET", options.path, headers);
        tally(statuses, `GET ${status}`);
      } else {
        const created = await send(
          "POST",
          "/api/v1/orders",
          { ...headers, "idempotency-key": randomUUID() },
          { items: [{ product_id: buyers.product_id, quantity: 1 }] },
          true,
        );
        tally(statuses, `order ${created.status}`);
        if (created.status === 201) {
          const paid = await send("POST", `/api/v1/orders/${JSON.parse(created.body).id}/pay`, {
            ...headers,
            "idempotency-key": randomUUID(),
          });
          tally(statuses, `pay ${paid.status}`);
        }
      }
      latencies.push(performance.now() - start);
    }),
  );
  return summary(latencies, { all_answered_ms: performance.now() - start, statuses });
}

const run = { ceiling, open: openLoop, burst }[mode];
if (!run) {
  console.error("mode: ceiling, open or burst");
  process.exit(2);
}
console.log(JSON.stringify(await run()));
agent.destroy();
