import EventStream
import NIOCore
import ScriptClock

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The server's state: streams, subscribers and open connections, and every operation on them.
///
/// Invariant: confined to the server's single event loop (reached through `NIOLoopBound`), so
/// subscribing, replaying history and publishing never interleave: a resuming client gets every
/// event after its `Last-Event-ID` exactly once.
final class ServerCore {
    let eventLoop: EventLoop
    let configuration: ServerConfiguration
    let timeScale: TimeScale
    let log: @Sendable (ServerLogEntry) -> Void
    let allocator = ByteBufferAllocator()
    let encoder = EventStreamEncoder()
    var streams: [String: StreamState] = [:]
    /// Every stream's history, within `configuration.limits.maxHistoryBytes`.
    var ledger = HistoryLedger()
    var subscribers: [Int: Subscriber] = [:]
    var nextClientID = 1
    /// Connections waiting for their stream's scenario to accept or reject them, by ticket.
    var pendingConnections: [Int: PendingSubscription] = [:]
    var nextTicket = 1
    /// Streams served at paths of their own (`StreamRoute`), by normalized path.
    var routes: [String: StreamRoute] = [:]
    private(set) var openConnections: [ObjectIdentifier: Channel] = [:]
    var isStopping = false

    init(eventLoop: EventLoop, configuration: ServerConfiguration, timeScale: TimeScale, log: @escaping @Sendable (ServerLogEntry) -> Void) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.timeScale = timeScale
        // The timeline stream is the server's own telling of what happens: what happens on it is not
        // told again (a viewer watching the timeline would otherwise feed it forever).
        self.log = { entry in if entry.streamName != Self.timelineStream { log(entry) } }
    }

    /// The stream of the workbench's timeline entries (`GET /timeline`): a name no one can give a
    /// stream (parentheses are not allowed), so it is never a user's, and it is left out of listings.
    static let timelineStream = "(timeline)"
    /// Timeline entries a viewer that opens late gets first.
    static let timelineHistory = 500

    /// Publishes one timeline entry (JSON) to the timeline stream, keeping the last `timelineHistory`.
    func publishTimeline(_ json: String) {
        guard let stream = try? stream(named: Self.timelineStream, keep: true) else { return }
        if stream.settings.historySize != Self.timelineHistory {
            stream.settings.historySize = Self.timelineHistory
            stream.settings.heartbeatMilliseconds = 15_000
        }
        // Numbered, so a viewer that reconnects resumes after the last entry it drew instead of getting them again.
        _ = try? publish(stream: Self.timelineStream, event: ServerSentEvent(type: "entry", data: json, id: "auto"), validatesName: false)
    }

    // MARK: Connections

    /// Registers a new connection; false when the connection limit is reached.
    func connectionOpened(_ channel: Channel) -> Bool {
        guard !isStopping, openConnections.count < configuration.limits.maxConnections else { return false }
        openConnections[ObjectIdentifier(channel)] = channel
        return true
    }

    func connectionClosed(_ channel: Channel) {
        openConnections[ObjectIdentifier(channel)] = nil
        if openConnections.isEmpty { scheduleMemoryReturn() }
    }

    private var memoryReturn: Scheduled<Void>?

    /// Once the server has been without connections for a second, gives the heap memory a burst of
    /// them used back to the system (glibc keeps freed memory otherwise), so a workbench left running
    /// after a load test shrinks back to its resting size.
    private func scheduleMemoryReturn() {
        memoryReturn?.cancel()
        memoryReturn = eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [weak self] in
            guard let self, self.openConnections.isEmpty else { return }
            // Collections keep the capacity of their largest size; start them afresh.
            self.openConnections = [:]
            if self.subscribers.isEmpty { self.subscribers = [:] }
            for stream in self.streams.values { stream.subscribers.shrink() }
            _ = Self.returnFreedMemory?(0)
        }
    }

    /// glibc's `malloc_trim`, which the Glibc module does not export; nil elsewhere.
    private static let returnFreedMemory: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
            return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
            return nil
        #endif
    }()

    // MARK: Streams

    func scheduleHeartbeat(for stream: StreamState) {
        stream.heartbeat?.cancel()
        stream.heartbeat = nil
        let interval = stream.settings.heartbeatMilliseconds
        guard interval > 0 else { return }
        stream.heartbeat = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(timeScale.wallNanoseconds(milliseconds: interval))) {
            [weak self, weak stream] in
            guard let self, let stream, !self.isStopping else { return }
            self.broadcastComment(to: stream, text: "heartbeat")
            self.scheduleHeartbeat(for: stream)
        }
    }

    // MARK: Subscribing (see ServerCore+Subscribing.swift)

    /// Forgets a subscriber whose connection closed, logging why.
    func unsubscribe(_ subscriber: Subscriber, peerReason: String) {
        guard subscribers.removeValue(forKey: subscriber.id) != nil else { return }
        guard let stream = streams[subscriber.streamName] else { return }
        stream.subscribers.remove(subscriber)
        log(.disconnected(client: subscriber.id, stream: subscriber.streamName, reason: subscriber.closeReason ?? peerReason))
        announceViewers(stream)
        removeIfUnused(stream)
    }

    /// The `viewers` event (presence): how many subscribers the stream has now.
    func announceViewers(_ stream: StreamState) {
        guard stream.settings.announcesViewers, !isStopping else { return }
        _ = try? publish(stream: stream.name, event: ServerSentEvent(type: "viewers", data: String(stream.subscribers.count)))
    }

    /// Closes the subscribers of `stream` that were sent no event within its idle timeout.
    func scheduleIdleCheck(for stream: StreamState) {
        stream.idleCheck?.cancel()
        stream.idleCheck = nil
        let timeout = stream.settings.idleTimeoutMilliseconds
        guard timeout > 0 else { return }
        let checkEvery = TimeAmount.nanoseconds(max(1_000_000, timeScale.wallNanoseconds(milliseconds: timeout / 4)))
        stream.idleCheck = eventLoop.assumeIsolated().scheduleTask(in: checkEvery) { [weak self, weak stream] in
            guard let self, let stream, !self.isStopping else { return }
            let limit = NIODeadline.now() - .nanoseconds(self.timeScale.wallNanoseconds(milliseconds: timeout))
            for subscriber in stream.subscribers where subscriber.lastEventAt < limit {
                subscriber.drop(.clean, reason: "idle for \(timeout) ms (idle timeout)")
            }
            self.scheduleIdleCheck(for: stream)
        }
    }

    // MARK: Publishing

    /// Publishes `event` to a stream's subscribers (or one of them), remembering it in the history
    /// when it goes to the whole stream. An id of `auto` takes the stream's next counter value.
    func publish(
        stream streamName: String, event: ServerSentEvent, to clientID: Int? = nil, keep: Bool = false, validatesName: Bool = true
    ) throws(ServerError) -> PublishReceipt {
        if validatesName { try StreamName.validate(streamName) }
        let stream = try stream(named: streamName, keep: keep)
        defer { removeIfUnused(stream) }
        var event = event
        if event.id == "auto" {
            event.id = String(stream.nextAutoID)
            stream.nextAutoID += 1
        }
        let bytes: [UInt8]
        do { bytes = try encoded(event) } catch { throw .invalidEvent(error.description) }
        let clean = frame(bytes, isEvent: true)
        var live = clean
        if !stream.corruptions.isEmpty {
            live = frame(stream.corruptions.removeFirst().apply(to: bytes), isEvent: true)
        }
        let clients: Int
        if let clientID {
            guard let subscriber = subscribers[clientID], subscriber.streamName == streamName else { throw .noSuchClient(clientID) }
            sendDirectly(live, to: subscriber, of: stream)
            clients = 1
        } else {
            remember(event, frame: clean, in: stream)
            if event.id == nil, stream.settings.historySize > 0, !stream.warnedIdless, event.type != "viewers" {
                stream.warnedIdless = true
                log(.idlessInHistory(stream: streamName))
            }
            if let id = event.id { stream.lastId = id }
            if !stream.types.contains(event.type) { stream.types.append(event.type) }
            clients = stream.subscribers.count
            broadcast(live, to: stream)
        }
        log(.published(stream: streamName, id: event.id, type: event.type, clients: clients))
        return PublishReceipt(id: event.id, clients: clients)
    }

    /// Sends a comment to every subscriber of `stream`.
    func broadcastComment(to stream: StreamState, text: String) {
        var bytes: [UInt8] = []
        encoder.appendComment(text, to: &bytes)
        broadcast(frame(bytes, isEvent: false), to: stream)
    }

    func comment(stream name: String, text: String, to clientID: Int?) throws(ServerError) -> Int {
        try StreamName.validate(name)
        let recipients = try audience(name, clientID)
        var bytes: [UInt8] = []
        encoder.appendComment(text, to: &bytes)
        let comment = frame(bytes, isEvent: false)
        guard let stream = streams[name] else { return 0 }
        if clientID == nil {
            broadcast(comment, to: stream)
        } else {
            for subscriber in recipients { sendDirectly(comment, to: subscriber, of: stream) }
        }
        return recipients.count
    }

    // MARK: Fan-out

    /// Subscribers a fan-out pass serves before it lets the loop read again.
    static let fanOutSliceSize = 128
    /// How a pass lets the loop read between slices; set once the server has started (until then
    /// a pass runs on, having no connections to wait for).
    var loopYield: LoopYield?

    /// Delivers `frame` to every subscriber of `stream`, in passes over the subscribers of at most
    /// `fanOutSliceSize` at a time, the first later in this loop tick and each next one after the
    /// loop has read again. A publish is thus answered while its fan-out goes on, and whatever is broadcast
    /// meanwhile goes to the subscribers not yet reached together with it, in one system call each;
    /// the subscribers passed already get it in the next pass. Every subscriber gets the stream's
    /// frames exactly once and in order (`Subscriber.deliveredSequence` says how far it is).
    func broadcast(_ frame: Frame, to stream: StreamState) {
        guard stream.fanOut.broadcast(frame) else { return }
        // Later in this loop tick: broadcasts made together (a pipelining publisher's requests read
        // at once) all go out in the first pass.
        eventLoop.assumeIsolated().execute { [weak self, weak stream] in
            guard let self, let stream else { return }
            self.startPass(stream)
        }
    }

    private func startPass(_ stream: StreamState) {
        stream.fanOut.startPass(over: stream.subscribers.elements)
        continuePass(stream)
    }

    /// Delivers one slice of the pass (each delivery one short access to the fan-out state, so a
    /// write that ends a connection, and whatever that broadcasts, cannot overlap it), then yields
    /// to the loop or ends as the fan-out says.
    private func continuePass(_ stream: StreamState) {
        stream.fanOut.beginSlice(size: Self.fanOutSliceSize)
        while !isStopping, let delivery = stream.fanOut.nextDelivery() {
            delivery.recipient.deliver(delivery.frames)
        }
        switch stream.fanOut.endSlice(subscribers: stream.subscribers.elements, isStopping: isStopping) {
        case .continuePass: scheduleRestOfPass(stream, restart: false)
        case .restartPass: scheduleRestOfPass(stream, restart: true)
        case .finished: break
        }
    }

    private func scheduleRestOfPass(_ stream: StreamState, restart: Bool) {
        let rest = { [weak self, weak stream] in
            guard let self, let stream else { return }
            if restart { self.startPass(stream) } else { self.continuePass(stream) }
        }
        if let loopYield { loopYield.yield(rest) } else { eventLoop.assumeIsolated().execute(rest) }
    }

    /// Sends `frame` to one subscriber now, after what the stream's fan-out still owes it.
    private func sendDirectly(_ frame: Frame, to subscriber: Subscriber, of stream: StreamState) {
        if let owed = stream.fanOut.takeOwed(by: subscriber) { subscriber.deliver(owed) }
        subscriber.send(frame)
    }

    // MARK: Faults

    func audience(_ streamName: String, _ clientID: Int?) throws(ServerError) -> [Subscriber] {
        if let clientID {
            guard let subscriber = subscribers[clientID], subscriber.streamName == streamName else { throw .noSuchClient(clientID) }
            return [subscriber]
        }
        return streams[streamName]?.subscribers.elements ?? []
    }

    /// Applies `change` to the pacing of a stream (all its clients, and newcomers) or of one client.
    func pace(_ audience: Audience, _ change: (inout Pacing) -> Void) throws(ServerError) -> Int {
        switch audience {
        case .stream(let name):
            try StreamName.validate(name)
            let stream = try stream(named: name, keep: true)
            change(&stream.pacing)
            for subscriber in stream.subscribers { subscriber.pump() }
            return stream.subscribers.count
        case .client(let id):
            guard let subscriber = subscribers[id] else { throw .noSuchClient(id) }
            change(&subscriber.pacing)
            subscriber.pump()
            return 1
        }
    }

    func drop(_ audience: Audience, mode: DropMode) throws(ServerError) -> Int {
        let victims: [Subscriber]
        switch audience {
        case .stream(let name): victims = streams[name]?.subscribers.elements ?? []
        case .client(let id):
            guard let subscriber = subscribers[id] else { throw .noSuchClient(id) }
            victims = [subscriber]
        }
        for victim in victims { victim.drop(mode, reason: "dropped by the server (\(mode.rawValue))") }
        return victims.count
    }

    // MARK: Snapshot

    /// What the listing carries besides the streams (`SSEServer.setListingSupplement`).
    var listingSupplement: ListingSupplement?

    func snapshot() -> ServerSnapshot {
        ServerSnapshot(
            streams: streams.values.filter { $0.name != Self.timelineStream }.sorted { $0.name < $1.name }.map { stream in
                ServerSnapshot.Stream(
                    name: stream.name,
                    settings: stream.settings,
                    historyCount: stream.history.count,
                    lastId: stream.lastId,
                    types: stream.types,
                    clients: stream.subscribers.sorted { $0.id < $1.id }.map {
                        .init(
                            id: $0.id, stream: stream.name, remote: $0.remote, connectedAt: $0.connectedAt, eventsSent: $0.eventsSent,
                            transport: $0.transport)
                    },
                    route: routes.values.first { $0.stream == stream.name }
                )
            })
    }

    // MARK: Stopping

    /// Ends every subscriber's stream cleanly and closes every connection.
    func closeEverything() -> EventLoopFuture<Void> {
        isStopping = true
        for stream in streams.values {
            stream.heartbeat?.cancel()
            stream.idleCheck?.cancel()
        }
        for subscriber in subscribers.values { subscriber.drop(.clean, reason: "the server stopped") }
        let closes = openConnections.values.map { channel in
            channel.close().recover { _ in }
        }
        return EventLoopFuture.andAllComplete(closes, on: eventLoop)
    }

    // MARK: Encoding

    func encoded(_ event: ServerSentEvent) throws(EventEncodingError) -> [UInt8] {
        var bytes: [UInt8] = []
        try encoder.append(event, to: &bytes)
        return bytes
    }

    func frame(_ bytes: [UInt8], isEvent: Bool) -> Frame {
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return Frame(buffer, isEvent: isEvent, allocator: allocator)
    }

    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// The rule for stream names, which appear in URLs, logs and the REPL.
public enum StreamName {
    public static let maxLength = 128

    /// Throws with a message naming the problem unless `name` is 1 to 128 letters, digits, `.`, `_`,
    /// `~` or `-`, and not `.` or `..`.
    public static func validate(_ name: String) throws(ServerError) {
        let shown = name.count > 40 ? "\(name.prefix(40))… (\(name.utf8.count) bytes)" : name
        guard !name.isEmpty else { throw .invalidStreamName("a stream needs a name: /streams/NAME") }
        guard name.utf8.count <= maxLength else {
            throw .invalidStreamName("stream name \(shown.debugDescription) is longer than \(maxLength) bytes")
        }
        guard name != ".", name != ".." else { throw .invalidStreamName("stream name \(name.debugDescription) is not allowed") }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~") || byte == UInt8(ascii: "-")
        }
        guard allowed else {
            throw .invalidStreamName("stream name \(shown.debugDescription) may only hold letters, digits, '.', '_', '~' and '-'")
        }
    }
}
