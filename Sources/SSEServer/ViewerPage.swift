/// The page served at `/`: plain HTML and JavaScript using the browser's own `EventSource`. It lists
/// the streams, subscribes to one, and shows each event's time, type, id and data as it arrives;
/// below, the workbench's proxies (when the listing has any) with their open exchanges.
/// Data is inserted as text, never as HTML. A `?token=` on the page's URL is passed on to the server.
enum ViewerPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>drip viewer</title>
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

        document.getElementById("subscribe").onclick = () => { rows.replaceChildren(); count = 0; lastId = ""; subscribe(select.value); };
        refresh();
        setInterval(refresh, 1000);
        </script>
        </body>
        </html>
        """#
}
