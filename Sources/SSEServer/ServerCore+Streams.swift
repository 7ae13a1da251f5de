import EventStream

/// How streams come and go, and the history budget they share.
///
/// The rule: a stream is created on first use, by a request or by the workbench. One the workbench
/// set up (`configure`, a fault, a publish through `SSEServer`) stays until the server stops. One a
/// request created is removed as soon as it is unused — no subscriber, no event in its history, no
/// fault waiting — so requests to made-up names leave nothing behind; its history goes first when
/// the server-wide budget needs room (oldest entries of any stream first). At most
/// `ServerLimits.maxStreams` exist at once; a request for one more is answered 503.
extension ServerCore {
    /// The stream named `name`, created with the default settings when there is none (and room for
    /// it); `keep` marks it as set up on purpose.
    func stream(named name: String, keep: Bool = false) throws(ServerError) -> StreamState {
        if let stream = streams[name] {
            if keep { stream.isKept = true }
            return stream
        }
        let limit = configuration.limits.maxStreams
        guard streams.count < limit else {
            throw .limitReached("too many streams (limit \(limit)): cannot create \(name.prefix(40).debugDescription)")
        }
        let stream = StreamState(name: name, settings: configuration.streamDefaults)
        stream.isKept = keep
        streams[name] = stream
        scheduleHeartbeat(for: stream)
        scheduleIdleCheck(for: stream)
        return stream
    }

    func configure(stream name: String, _ update: (inout StreamSettings) -> Void) throws(ServerError) -> StreamSettings {
        try StreamName.validate(name)
        let stream = try stream(named: name, keep: true)
        update(&stream.settings)
        ledger.removed(stream.trimHistory())
        scheduleHeartbeat(for: stream)
        scheduleIdleCheck(for: stream)
        return stream.settings
    }

    /// Removes `stream` when a request created it and it is unused now.
    func removeIfUnused(_ stream: StreamState) {
        guard !stream.isKept, stream.isUnused, streams[stream.name] === stream else { return }
        stream.heartbeat?.cancel()
        stream.idleCheck?.cancel()
        streams[stream.name] = nil
    }

    /// Puts an event into the stream's history (when the stream keeps one and the event fits the
    /// budget at all), then makes room under the budget by dropping the oldest entries of any stream.
    func remember(_ event: ServerSentEvent, frame: Frame, in stream: StreamState) {
        guard stream.settings.historySize > 0 else { return }
        let entry = StreamState.HistoryEntry(event: event, frame: frame, serial: ledger.nextSerial())
        let budget = configuration.limits.maxHistoryBytes
        guard entry.size <= budget else { return }
        ledger.added(entry, to: stream.name)
        ledger.removed(stream.remember(entry))
        while ledger.bytes > budget, let (name, serial) = ledger.takeOldest() {
            guard let owner = streams[name], let evicted = owner.removeOldest(serial: serial) else { continue }
            ledger.removed(CollectionOfOne(evicted))
            if owner !== stream { removeIfUnused(owner) }
        }
        ledger.compact { streams.values.flatMap { stream in stream.history.map { (stream.name, $0.serial) } } }
    }
}
