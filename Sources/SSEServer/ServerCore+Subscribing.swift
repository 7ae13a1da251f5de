import EventStream
import NIOCore

/// What a connection asks of a stream: everything needed to answer it now or, when the stream has a
/// scenario, later.
struct SubscriptionRequest {
    let streamName: String
    let lastEventId: String?
    let usesChunkedFraming: Bool
    let corsHeaders: [(String, String)]
    let remote: String
    let context: ChannelHandlerContext
    let writer: SocketWriter
    let transport: Transport
    /// The request as a scenario sees it.
    let request: IncomingRequest
}

/// A connection held for its stream's scenario, and how to tell its handler the outcome (the
/// subscriber, or nil when it was answered otherwise).
struct PendingSubscription {
    let subscription: SubscriptionRequest
    let settled: (Subscriber?) -> Void
}

/// How `ServerCore.admit` dealt with a connection.
enum Admission {
    /// Subscribed: the stream goes to it from now on.
    case subscribed(Subscriber)
    /// Answered (a rejection) or gone; the connection closes.
    case answered
    /// Held until the stream's scenario accepts or rejects it (`ServerCore.acceptPending`).
    case awaitingScenario(ticket: Int)
}

/// Subscribing: rejections first, then the stream's scenario (which may hold the connection and
/// answer it later), then the subscription itself.
extension ServerCore {
    /// Admits the connection `subscription` describes; `settled` is called later with the outcome
    /// when the answer is `.awaitingScenario`.
    func admit(_ subscription: SubscriptionRequest, settled: @escaping (Subscriber?) -> Void) throws(ServerError) -> Admission {
        let stream = try stream(named: subscription.streamName)
        if let (rejection, remaining) = stream.rejections.first {
            if remaining > 1 { stream.rejections[0].remaining -= 1 } else { stream.rejections.removeFirst() }
            answer(rejection, to: subscription)
            removeIfUnused(stream)
            return .answered
        }
        if let scenario = stream.scenario {
            let ticket = nextTicket
            nextTicket += 1
            stream.scenarioConnections += 1
            pendingConnections[ticket] = PendingSubscription(subscription: subscription, settled: settled)
            scenario(PendingConnection(ticket: ticket, stream: stream.name, number: stream.scenarioConnections, request: subscription.request))
            return .awaitingScenario(ticket: ticket)
        }
        guard let subscriber = try subscribe(subscription) else { return .answered }
        return .subscribed(subscriber)
    }

    /// Subscribes a held connection; returns its client id.
    func acceptPending(_ ticket: Int) throws(ServerError) -> Int {
        guard let pending = pendingConnections.removeValue(forKey: ticket) else { throw .connectionClosed }
        let subscriber = try subscribe(pending.subscription)
        pending.settled(subscriber)
        guard let subscriber else { throw .connectionClosed }
        return subscriber.id
    }

    /// Answers a held connection with `rejection`.
    func rejectPending(_ ticket: Int, _ rejection: Rejection) throws(ServerError) {
        guard let pending = pendingConnections.removeValue(forKey: ticket) else { throw .connectionClosed }
        answer(rejection, to: pending.subscription)
        pending.settled(nil)
    }

    /// Forgets a held connection that closed before its scenario answered it.
    func abandonPending(_ ticket: Int) {
        pendingConnections[ticket] = nil
    }

    /// Writes the response head, the announced retry, the initial event and the history after
    /// `lastEventId`, then adds the connection to the live audience; nil when it closed meanwhile.
    private func subscribe(_ request: SubscriptionRequest) throws(ServerError) -> Subscriber? {
        let stream = try stream(named: request.streamName)
        let subscriber = Subscriber(
            id: nextClientID, stream: stream, remote: request.remote, connectedAt: Self.now(), usesChunkedFraming: request.usesChunkedFraming,
            transport: request.transport,
            context: request.context, writer: request.writer, core: self)
        nextClientID += 1
        var headers: [(String, String)] = [
            ("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no"),
        ]
        headers.append(request.usesChunkedFraming ? ("Transfer-Encoding", "chunked") : ("Connection", "close"))
        subscriber.writeHead(HTTPResponse.head(status: 200, headers: headers + request.corsHeaders, allocator: allocator))

        if let retry = stream.settings.retryMilliseconds {
            var bytes: [UInt8] = []
            try? encoder.appendRetry(retry, to: &bytes)
            bytes.append(UInt8(ascii: "\n"))
            subscriber.send(frame(bytes, isEvent: false))
        }
        if let initial = stream.settings.initialEvent, let bytes = try? encoded(initial) {
            subscriber.send(frame(bytes, isEvent: true))
        }
        let replayed = replayHistory(of: stream, after: request.lastEventId, to: subscriber)
        guard !subscriber.isClosed else {
            removeIfUnused(stream)
            return nil
        }
        // What the stream broadcast before now is history (replayed above) or not this client's.
        subscriber.deliveredSequence = stream.fanOut.lastSequence
        stream.subscribers.insert(subscriber)
        subscribers[subscriber.id] = subscriber
        log(.connected(client: subscriber.id, stream: stream.name, remote: request.remote, lastEventId: request.lastEventId))
        if let replayed, let lastEventId = request.lastEventId, replayed.count > 0 || !replayed.known {
            log(.replayed(client: subscriber.id, stream: stream.name, count: replayed.count, lastEventId: lastEventId, known: replayed.known))
        }
        announceViewers(stream)
        return subscriber
    }

    /// Sends a resuming subscriber the history after `lastEventId` (all of it when the id is not in
    /// history), marked by a comment; nil when there is no id to resume from.
    private func replayHistory(of stream: StreamState, after lastEventId: String?, to subscriber: Subscriber) -> (count: Int, known: Bool)? {
        guard let lastEventId, !lastEventId.isEmpty else { return nil }
        var note: [UInt8] = []
        let replayed: CircularBuffer<StreamState.HistoryEntry>
        if let missed = stream.entries(after: lastEventId) {
            // Marked, for whoever reads comments (drip's client shows them): these events are
            // sent again, so what a client sees is at least once, exactly once only with ids.
            if !missed.isEmpty {
                encoder.appendComment(
                    "replaying \(missed.count) event\(missed.count == 1 ? "" : "s") from history after Last-Event-ID \(lastEventId.debugDescription)",
                    to: &note)
            }
            replayed = missed
        } else {
            encoder.appendComment(
                "unknown Last-Event-ID \(lastEventId.debugDescription): replaying all \(stream.history.count) events in history", to: &note)
            replayed = stream.history
        }
        if !note.isEmpty { subscriber.send(frame(note, isEvent: false)) }
        for entry in replayed { subscriber.send(entry.frame) }
        return (replayed.count, stream.entries(after: lastEventId) != nil)
    }

    /// Answers `subscription`'s connection with `rejection` and closes it, logging it.
    private func answer(_ rejection: Rejection, to subscription: SubscriptionRequest) {
        let status = rejection.status
        let body = rejection.body ?? (status == 204 ? "" : "\(status) \(HTTPResponse.reasonPhrase(status)) (drip reject fault)\n")
        // A Content-Type among the script's headers is the one the answer has (an HTML page, say).
        let givenType = rejection.headers.last { $0.name.lowercased() == "content-type" }?.value
        let contentType =
            givenType ?? rejection.contentType
            ?? ((try? JSONValue(parsing: body)) != nil && rejection.body != nil ? "application/json" : "text/plain; charset=utf-8")
        let headers = subscription.corsHeaders + rejection.headers.filter { $0.name.lowercased() != "content-type" }.map { ($0.name, $0.value) }
        let response = HTTPResponse.complete(
            status: status, contentType: contentType, body: body, headers: headers, keepAlive: false,
            omitsBody: subscription.request.method == "HEAD", allocator: allocator)
        let context = subscription.context
        context.writeAndFlush(NIOAny(response)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        log(.rejected(stream: subscription.streamName, status: status, remote: subscription.remote))
    }
}
