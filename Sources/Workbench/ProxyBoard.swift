import EventStream
import SSEProxy
import Synchronization

/// What the viewer page shows of the workbench's proxies: each one's address and upstream, how many
/// exchanges passed, and the open ones (request, answer, events passed). The server's listing reads
/// it on its event loop while the engine writes it, hence the lock.
///
/// Invariant: only open exchanges are kept (a proxy's are removed as they end), so its size is
/// bounded by the connections open through the proxies.
final class ProxyBoard: Sendable {
    private struct Exchange {
        var method: String
        var target: String
        var status: Int?
        var isEventStream = false
        var events = 0
    }

    private struct Proxy {
        var url: String
        var upstream: String
        var exchanges = 0
        var open: [Int: Exchange] = [:]
    }

    private let proxies = Mutex<[String: Proxy]>([:])

    func add(_ name: String, url: String, upstream: String) { proxies.withLock { $0[name] = Proxy(url: url, upstream: upstream) } }

    func remove(_ name: String) { _ = proxies.withLock { $0.removeValue(forKey: name) } }

    func saw(_ event: ProxyEvent, proxy name: String) {
        proxies.withLock { proxies in
            guard var proxy = proxies[name] else { return }
            switch event {
            case .request(let number, let method, let target, _):
                proxy.exchanges += 1
                proxy.open[number] = Exchange(method: method, target: Secrets.masked(target))
            case .response(let number, let status, _, _, let isEventStream, _):
                proxy.open[number]?.status = status
                proxy.open[number]?.isEventStream = isEventStream
            case .observed(let number, .event(_, let fate)) where fate != .skipped:
                proxy.open[number]?.events += 1
            case .ended(let number, _, _):
                proxy.open[number] = nil
            case .observed, .problem:
                break
            }
            proxies[name] = proxy
        }
    }

    /// The listing's `proxies` member: each proxy with its open exchanges, by name and number.
    func listing() -> [(key: String, value: JSONValue)] {
        let proxies = self.proxies.withLock { $0 }
        let items = proxies.keys.sorted().compactMap { name -> JSONValue? in
            guard let proxy = proxies[name] else { return nil }
            let open = proxy.open.keys.sorted().compactMap { number -> JSONValue? in
                guard let exchange = proxy.open[number] else { return nil }
                return .object([
                    ("number", .number(String(number))), ("method", .string(exchange.method)), ("target", .string(exchange.target)),
                    ("status", exchange.status.map { .number(String($0)) } ?? .null), ("eventStream", .bool(exchange.isEventStream)),
                    ("events", .number(String(exchange.events))),
                ])
            }
            return .object([
                ("name", .string(name)), ("url", .string(proxy.url)), ("upstream", .string(Secrets.masked(proxy.upstream))),
                ("exchanges", .number(String(proxy.exchanges))), ("open", .array(open)),
            ])
        }
        return [("proxies", .array(items))]
    }
}
