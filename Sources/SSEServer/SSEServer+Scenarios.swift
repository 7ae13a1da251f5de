import EventStream

/// Routes and scenarios: streams served at paths and methods of their own, and connections held for
/// a script to answer one by one (the workbench's `on-connect` blocks).
extension SSEServer {
    /// Serves `route.stream` at `route.path` for `route.methods` too (replacing a route it had).
    public func route(_ route: StreamRoute) async throws(ServerError) {
        try await onLoop { core throws(ServerError) in try core.setRoute(route) }
    }

    /// Hands each new connection to `stream` to `handler` instead of subscribing it; the connection
    /// waits until `accept(_:)` or `reject(_:_:)` names its ticket. Nil subscribes at once again.
    public func setScenario(stream: String, _ handler: ScenarioHandler?) async throws(ServerError) {
        try await onLoop { core throws(ServerError) in
            try StreamName.validate(stream)
            let state = try core.stream(named: stream, keep: true)
            state.scenario = handler
            state.scenarioConnections = 0
        }
    }

    /// Subscribes a held connection (its response head, retry, initial event and history go out);
    /// returns its client id. Throws `connectionClosed` when it is gone or was answered.
    public func accept(_ ticket: Int) async throws(ServerError) -> Int {
        try await onLoop { core throws(ServerError) in try core.acceptPending(ticket) }
    }

    /// Answers a held connection with `rejection` and closes it.
    public func reject(_ ticket: Int, _ rejection: Rejection) async throws(ServerError) {
        let rejection = try rejection.validated()
        try await onLoop { core throws(ServerError) in try core.rejectPending(ticket, rejection) }
    }

    /// Whether client `id` is still subscribed.
    public func isSubscribed(client id: Int) async -> Bool {
        (try? await onLoop { core in core.subscribers[id] != nil }) ?? false
    }

    /// Adds members to the listing (`GET /streams`) and so to the viewer page: the workbench lists its
    /// proxies there. `supplement` is called on the server's event loop for each listing; nil removes it.
    public func setListingSupplement(_ supplement: ListingSupplement?) async throws(ServerError) {
        try await onLoop { $0.listingSupplement = supplement }
    }
}

/// Members a listing carries besides `streams`, made at the moment it is asked for.
public typealias ListingSupplement = @Sendable () -> [(key: String, value: JSONValue)]
