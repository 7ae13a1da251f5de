/// The page served at `/`: plain HTML and JavaScript using the browser's own `EventSource`. It lists
/// the streams, subscribes to one, and shows each event's time, type, id and data as it arrives;
/// beside it, the workbench's timeline drawn live from `GET /timeline` (an event stream of timeline
/// entries, the last minute shown: a lane per server connection, per client — a reconnection its
/// next segment — and per proxied exchange); below, the workbench's proxies with their open exchanges.
/// Data is inserted as text, never as HTML. A `?token=` on the page's URL is passed on to the server.
enum ViewerPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>drip viewer</title>
        <link rel="icon" href="data:,">
        <style>
          body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; background: #fbfbfd; }
          h1 { font-size: 1.3rem; margin: 0 0 .8rem; }
          #bar { display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; margin-bottom: .8rem; }
          select, button { font: inherit; padding: .2rem .5rem; }
          #state { font-weight: 600; }
          .open { color: #107c10; } .connecting { color: #b36b00; } .closed { color: #c50f1f; }
          table { border-collapse: collapse; width: 100%; }
          th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #e5e5ea; vertical-align: top; }
          th { font-size: .8rem; text-transform: uppercase; color: #6e6e73; }
          td.data { font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; }
          td.time, td.id, td.type { white-space: nowrap; font-family: ui-monospace, monospace; }
          h2 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; }
          p.proxy { font-family: ui-monospace, monospace; margin: .6rem 0 .3rem; }
          #timeline { width: 100%; border: 1px solid #e5e5ea; background: #fff; font: 11px system-ui, sans-serif; }
        </style>
        </head>
        <body>
        <h1>drip viewer</h1>
        <div id="bar">
          <label>Stream <select id="streams"><option value="">(none yet)</option></select></label>
          <button id="subscribe">Subscribe</button>
          <span>state: <span id="state" class="closed">closed</span></span>
          <span id="count">0 events</span>
        </div>
        <table>
          <thead><tr><th>time</th><th>type</th><th>id</th><th>data</th></tr></thead>
          <tbody id="events"></tbody>
        </table>
        <h2>Timeline <small id="timeline-state" class="connecting">connecting</small></h2>
        <svg id="timeline" viewBox="0 0 1200 60" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="timeline"></svg>
        <h2>Clients <small id="connections"></small></h2>
        <table>
          <thead><tr><th>client</th><th>stream</th><th>remote (connection)</th><th>speaks</th><th>events sent</th></tr></thead>
          <tbody id="clients"></tbody>
        </table>
        <h2 id="proxies-title" hidden>Proxies</h2>
        <div id="proxies"></div>
        <script>
        "use strict";
        const token = new URLSearchParams(location.search).get("token");
        const withToken = (url) => token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url;
        const select = document.getElementById("streams");
        const rows = document.getElementById("events");
        const stateLabel = document.getElementById("state");
        let source = null, current = null, lastId = "", count = 0;
        const knownTypes = new Set(["message"]);

        function showState(name) { stateLabel.textContent = name; stateLabel.className = name; }

        function addRow(event) {
          const row = document.createElement("tr");
          for (const [cls, text] of [["time", new Date().toLocaleTimeString()], ["type", event.type],
                                     ["id", event.lastEventId], ["data", event.data]]) {
            const cell = document.createElement("td");
            cell.className = cls;
            cell.textContent = text;
            row.appendChild(cell);
          }
          rows.insertBefore(row, rows.firstChild);
          count += 1;
          document.getElementById("count").textContent = count + (count === 1 ? " event" : " events");
          if (event.lastEventId) lastId = event.lastEventId;
        }

        function subscribe(name, resumeFrom) {
          if (source) source.close();
          current = name;
          if (!name) return showState("closed");
          let url = "/streams/" + encodeURIComponent(name);
          if (resumeFrom) url += "?lastEventId=" + encodeURIComponent(resumeFrom);
          source = new EventSource(withToken(url));
          showState("connecting");
          source.onopen = () => showState("open");
          source.onerror = () => showState(source.readyState === EventSource.CLOSED ? "closed" : "connecting");
          knownTypes.forEach((type) => source.addEventListener(type, addRow));
        }

        function cell(tag, text) {
          const element = document.createElement(tag);
          element.textContent = text;
          return element;
        }

        // Every subscriber of every stream; HTTP/2 streams of one connection share its remote address.
        function renderClients(streams) {
          const clients = streams.flatMap((stream) => stream.clients.map((client) => ({ stream: stream.name, ...client })));
          const connections = new Set(clients.map((client) => client.remote)).size;
          document.getElementById("connections").textContent =
            clients.length + (clients.length === 1 ? " client" : " clients") + " on " + connections + (connections === 1 ? " connection" : " connections");
          document.getElementById("clients").replaceChildren(...clients.map((client) => {
            const row = document.createElement("tr");
            const speaks = client.h2Stream === null ? (client.tls ? "HTTPS/1.1" : "HTTP/1.1") : "h2 stream " + client.h2Stream;
            [String(client.id), client.stream, client.remote, speaks, String(client.eventsSent)].forEach((text) => row.appendChild(cell("td", text)));
            return row;
          }));
        }

        function renderProxies(proxies) {
          document.getElementById("proxies-title").hidden = proxies.length === 0;
          document.getElementById("proxies").replaceChildren(...proxies.map((proxy) => {
            const section = document.createElement("section");
            section.appendChild(cell("p", proxy.name + "  " + proxy.url + " → " + proxy.upstream + "  (" + proxy.exchanges +
              (proxy.exchanges === 1 ? " exchange)" : " exchanges)"))).className = "proxy";
            const table = document.createElement("table");
            const head = document.createElement("tr");
            ["#", "request", "answer", "events"].forEach((title) => head.appendChild(cell("th", title)));
            table.appendChild(head);
            for (const exchange of proxy.open) {
              const row = document.createElement("tr");
              const answer = exchange.status === null ? "waiting" : exchange.status + (exchange.eventStream ? " event stream" : "");
              [proxy.name + "#" + exchange.number, exchange.method + " " + exchange.target, answer, String(exchange.events)]
                .forEach((text) => row.appendChild(cell("td", text)));
              table.appendChild(row);
            }
            section.appendChild(table);
            return section;
          }));
        }

        async function refresh() {
          try {
            const response = await fetch(withToken("/streams"));
            if (!response.ok) return;
            const listing = await response.json();
            renderProxies(listing.proxies || []);
            renderClients(listing.streams);
            const names = listing.streams.map((s) => s.name);
            const chosen = select.value;
            select.replaceChildren(...(names.length ? names : [""]).map((name) => {
              const option = document.createElement("option");
              option.value = name;
              option.textContent = name || "(none yet)";
              return option;
            }));
            if (names.includes(chosen)) select.value = chosen;
            if (!current && names.length) subscribe(select.value);
            const stream = listing.streams.find((s) => s.name === current);
            if (!stream) return;
            const fresh = stream.types.filter((type) => !knownTypes.has(type));
            if (fresh.length && source) {
              // Named events need a listener each. Resubscribe from the last id seen, so that events of a
              // type met for the first time are replayed from the server's history instead of lost.
              fresh.forEach((type) => knownTypes.add(type));
              if (lastId) return subscribe(current, lastId);
              fresh.forEach((type) => source.addEventListener(type, addRow));
            }
          } catch (error) { /* the server may be restarting; try again on the next tick */ }
        }

        // The timeline, live: each entry of GET /timeline is one thing the workbench saw (see Timeline
        // in drip's Workbench); lanes are drawn in the order they appear, the last minute across.
        const svgNS = "http://www.w3.org/2000/svg";
        const timeline = document.getElementById("timeline");
        const entries = [];
        let clockOffset = null, drawPending = false;

        function svg(tag, attributes, parent, text) {
          const element = document.createElementNS(svgNS, tag);
          for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
          if (text !== undefined) element.textContent = text;
          parent.appendChild(element);
          return element;
        }

        function drawTimeline() {
          drawPending = false;
          const now = clockOffset === null ? 0 : performance.now() - clockOffset;
          const start = Math.max(0, now - 60000), span = Math.max(now - start, 1000);
          const left = 170, width = 1200 - left - 20;
          const x = (at) => left + Math.max(0, Math.min(1, (at - start) / span)) * width;
          const order = ["session", "server", "client", "proxy"];
          const laneNames = [...new Map(entries.map((e) => [e.lane, e.side])).entries()]
            .sort((a, b) => order.indexOf(a[1]) - order.indexOf(b[1]));
          const height = 24 + laneNames.length * 34;
          timeline.setAttribute("viewBox", "0 0 1200 " + height);
          timeline.replaceChildren();
          laneNames.forEach(([name], row) => {
            const y = 30 + row * 34;
            const lane = svg("g", { class: "lane", "data-lane": name }, timeline);
            svg("text", { x: 6, y: y + 4, fill: "#333" }, lane, name);
            svg("line", { x1: left, y1: y, x2: left + width, y2: y, stroke: "#f0f0f0" }, lane);
            let opened = null;
            const endSegment = (at) => {
              if (opened === null) return;
              svg("line", { class: "segment", x1: x(opened), y1: y, x2: Math.max(x(at), x(opened) + 1), y2: y, stroke: "#3f8f5f", "stroke-width": 4 }, lane);
              opened = null;
            };
            for (const e of entries) {
              if (e.lane !== name) continue;
              const at = e.atMs, px = x(at);
              if (e.kind === "opened") {
                opened = at;
                if (e.lastEventId !== null && e.lastEventId !== undefined) {
                  const nearEnd = px > 1060;
                  svg("text", { class: "resume", x: nearEnd ? px - 2 : px + 2, y: y + 15, fill: "#1f5fa8", "text-anchor": nearEnd ? "end" : "start" },
                    lane, "Last-Event-ID: " + e.lastEventId);
                }
              } else if (e.kind === "event") {
                svg("circle", { class: e.replayed ? "event replayed" : "event", cx: px, cy: y, r: 4, fill: e.replayed ? "#fff" : "#1f5fa8", stroke: "#1f5fa8" }, lane)
                  .appendChild(document.createElementNS(svgNS, "title")).textContent = e.type + (e.id ? " " + e.id : "") + (e.data ? ": " + e.data : "");
              } else if (e.kind === "ended") {
                endSegment(at);
                if (e.byFault) {
                  const cross = svg("g", { class: "drop", stroke: "#c62828", "stroke-width": 2.5 }, lane);
                  svg("line", { x1: px - 5, y1: y - 5, x2: px + 5, y2: y + 5 }, cross);
                  svg("line", { x1: px - 5, y1: y + 5, x2: px + 5, y2: y - 5 }, cross);
                  svg("title", {}, cross, e.reason);
                }
              } else if (e.kind === "waiting") {
                const gap = svg("g", { class: "gap" }, lane);
                svg("line", { x1: px, y1: y, x2: Math.max(x(at + e.delayMs), px + 2), y2: y, stroke: "#999", "stroke-width": 2, "stroke-dasharray": "4 3" }, gap);
                svg("text", { x: px + 3, y: y - 8, fill: "#666" }, gap, "wait " + e.delayMs + " ms");
              } else if (e.kind === "refused" || e.kind === "closed") {
                endSegment(at);
                svg("rect", { class: e.kind, x: px - 2, y: y - 8, width: 4, height: 16, fill: "#c62828" }, lane);
              } else if (e.kind === "expectation") {
                svg("text", { class: e.passed ? "expectation" : "expectation failed", x: px - 4, y: y + 14, fill: e.passed ? "#2e7d32" : "#c62828" }, lane, e.passed ? "✓" : "✗");
              } else if (e.kind === "command") {
                svg("line", { class: "command", x1: px, y1: y - 8, x2: px, y2: y + 8, stroke: "#888" }, lane)
                  .appendChild(document.createElementNS(svgNS, "title")).textContent = e.line;
              }
            }
            endSegment(now);
          });
        }

        function scheduleDraw() { if (!drawPending) { drawPending = true; requestAnimationFrame(drawTimeline); } }

        // From the start: an id no entry has makes the server send all it keeps (the last 500).
        const timelineSource = new EventSource(withToken("/timeline?lastEventId=0"));
        const timelineState = document.getElementById("timeline-state");
        timelineSource.onopen = () => { timelineState.textContent = "live"; timelineState.className = "open"; };
        timelineSource.onerror = () => { timelineState.textContent = "reconnecting"; timelineState.className = "connecting"; };
        timelineSource.addEventListener("entry", (message) => {
          const entry = JSON.parse(message.data);
          clockOffset = performance.now() - entry.atMs;
          if (entry.kind === "ended" && entry.byFault && window.dropArrivedAt === undefined) window.dropArrivedAt = performance.now();
          entries.push(entry);
          if (entries.length > 3000) entries.splice(0, entries.length - 3000);
          scheduleDraw();
        });
        setInterval(drawTimeline, 500);

        document.getElementById("subscribe").onclick = () => { rows.replaceChildren(); count = 0; lastId = ""; subscribe(select.value); };
        refresh();
        setInterval(refresh, 1000);
        </script>
        </body>
        </html>
        """#
}
