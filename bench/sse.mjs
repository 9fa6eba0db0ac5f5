// Viewers of a live show's event stream for bench/live_show.py: N Server-Sent Events connections from one Node
// process (node:http only), so that the clients take little of the server's CPU. It opens them (at most
// --concurrency connecting at once), prints one JSON line {"opened", "failed"} once every connection has its answer
// or failed, then keeps listening until its stdin ends (the bench is done pinning), and prints a last JSON line:
// {"opened", "failed", "ended", "viewers": [{pin_id: received_ms, ...}, ...]}, where received_ms is the wall clock
// (ms since the epoch, sub-millisecond) when the chunk holding a viewer's first `pin` frame of that pin arrived.
//
//   node bench/sse.mjs --url http://127.0.0.1:8000 --path /api/v1/live/1/events --connections 2000

import http from "node:http";
import { parseArgs } from "node:util";

const { values: options } = parseArgs({
  options: {
    url: { type: "string" },
    path: { type: "string" },
    connections: { type: "string", default: "100" },
    concurrency: { type: "string", default: "100" },
  },
});
const base = new URL(options.url);
const total = Number(options.connections);
const wallMs = () => performance.timeOrigin + performance.now();
const PIN_ID = /"pin_id":(\d+)/;

const viewers = [];
let opened = 0;
let failed = 0;
let ended = 0;

// A frame is "field: value" lines ending in a blank line; only pin frames are looked at, and only their pin_id read
// (a regular expression, not JSON.parse): the less each chunk costs here, the less the later viewers' arrival times
// are held back by the earlier ones' handling.
function onFrame(viewer, frame, at) {
  if (!frame.startsWith("event: pin\n") && !frame.includes("\nevent: pin\n")) return;
  const found = PIN_ID.exec(frame);
  if (found && !(found[1] in viewer)) viewer[found[1]] = at;
}

function connect() {
  const viewer = {};
  viewers.push(viewer);
  return new Promise((answered) => {
    const request = http.get(
      { host: base.hostname, port: base.port, path: options.path, agent: false, headers: { accept: "text/event-stream" } },
      (response) => {
        if (response.statusCode !== 200) {
          failed += 1;
          response.resume();
          answered();
          return;
        }
        opened += 1;
        answered();
        response.setEncoding("utf8");
        let buffer = "";
        response.on("data", (chunk) => {
          const at = wallMs();
          buffer += chunk;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            onFrame(viewer, buffer.slice(0, end), at);
            buffer = buffer.slice(end + 2);
          }
        });
        response.on("close", () => {
          ended += 1;
        });
      },
    );
    request.on("error", () => {
      failed += 1;
      answered();
    });
  });
}

// At most `concurrency` connections opening at once: a thousand at once would only queue in the server's backlog.
let started = 0;
async function opener() {
  while (started < total) {
    started += 1;
    await connect();
  }
}
await Promise.all(Array.from({ length: Math.min(total, Number(options.concurrency)) }, opener));
console.log(JSON.stringify({ opened, failed }));

process.stdin.resume();
process.stdin.on("end", () => {
  const endedBeforeExit = ended; // streams the server closed while the bench ran (none expected)
  process.stdout.write(JSON.stringify({ opened, failed, ended: endedBeforeExit, viewers }) + "\n", () => process.exit(0));
});
