import SSEServer
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a callback on another thread or task reported, in order: the one collector the tests share
/// (a server's log, a client's events, the delays a client asked to sleep, an engine's lines).
public final class Collector<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])

    public init() {}

    public func record(_ item: Element) { items.withLock { $0.append(item) } }

    public var all: [Element] { items.withLock { $0 } }

    /// Waits up to `timeout` seconds, blocking the thread, for an item matching `predicate` (for the
    /// raw-socket tests, which block too); nil when none came.
    public func wait(timeout: Double = 5, for predicate: (Element) -> Bool) -> Element? {
        let deadline = RawConnection.now() + timeout
        repeat {
            if let found = all.first(where: predicate) { return found }
            usleep(10_000)
        } while RawConnection.now() < deadline
        return nil
    }
}

/// A server's log, as `SSEServer`'s log callback hands it over.
public typealias LogCollector = Collector<ServerLogEntry>

/// Polls `condition` every 10 ms until it holds (true) or `timeout` passes (false): the one way the
/// async tests wait for something that happens elsewhere. The default is generous, for a machine
/// busy with other tests; a test states what it waits for in `condition`, never how long it takes.
public func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
}
