import EventStream
import NIOCore
import NIOHTTP1
import NIOPosix
import SSEClient
import SSEServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One client connection to the proxy, on its event loop: reads a request, forwards it over a fresh
/// upstream connection on the same loop, and writes the answer back as it arrives — an event stream
/// through an `EventRelay`, anything else byte for byte. One request at a time; keep-alive when both
/// the client and the answer's framing allow it.
///
/// Invariants: used only on `downstream.eventLoop`; at most one upstream connection at a time, closed
/// when the exchange ends either way; the upstream is read only while the client's socket takes
/// what is written (backpressure), and bytes written downstream and not yet taken by the socket (or
/// held by pacing faults) are at most `limits.maxQueuedBytes`, past which the client is dropped.
/// Writes are sent at the end of the loop's turn, or after a read once enough connections wait
/// (`DeferredFlushes`), in the order written: directly to the socket while NIO holds nothing for
/// it, through NIO otherwise; whatever closes the client's connection sends what was written first
/// (`closeDownstream`).
final class ProxyConnection: FlushesWrites {
    /// How the answer's body is delimited downstream.
    enum Framing {
        case none, length, chunked, untilClose
    }

    let core: ProxyCore
    let downstream: Channel
    /// Writes to the client's socket directly while NIO holds nothing for it (`SocketWriter`).
    private let writer: SocketWriter
    private let flushes: DeferredFlushes
    /// Written this turn of the loop and not yet sent: sent directly at its end (`flushWrites`).
    private var unsent: ByteBuffer?
    /// Writes handed to NIO and not yet completed; while any is, every write goes through NIO too.
    private var writesInNIO = 0
    /// This connection is in its loop's `DeferredFlushes` for the end of the turn.
    private var flushIsDue = false
    private let clientAddress: String?
    private var request: (head: HTTPRequestHead, body: [UInt8], bodyTooLarge: Bool)?
    private var exchange: Int?
    private var upstream: Channel?
    private var reader = HTTPResponseReader()
    private(set) var framing = Framing.none
    private var upstreamDelimitsByClose = false
    /// The upstream's last head was an interim (1xx) one: its end is not the answer's.
    private var skipsInterimEnd = false
    /// Closes a connection whose request does not come in time: its head (at connect, and between
    /// requests), then its body.
    private var requestTimer: Scheduled<Void>?
    private var keepAlive = true
    private var answered = false
    /// The answer is ending on the proxy's account (`drop after=`): the upstream is no longer read.
    private var ignoresUpstream = false
    private var finished = false
    /// The relay of the event stream being answered, when the answer is one.
    var relay: EventRelay?
    /// Stall, delay and chunking on this connection (`ProxyConnection+Pacing`).
    var pacing = Pacing()
    var pacingQueue = PacingQueue()
    var scheduledPump: Scheduled<Void>?
    var afterDrain: (() -> Void)?
    var isFinished: Bool { finished }

    init(core: ProxyCore, downstream: Channel, writer: SocketWriter, flushes: DeferredFlushes) {
        self.core = core
        self.downstream = downstream
        self.writer = writer
        self.flushes = flushes
        clientAddress = downstream.remoteAddress?.ipAddress
        armRequestTimer(core.limits.requestHeadTimeout)
    }

    /// The request's head (or body) must arrive within `timeout`: a client that connects and sends
    /// nothing, or a trickle, is not kept.
    private func armRequestTimer(_ timeout: Duration) {
        requestTimer?.cancel()
        let channel = downstream
        requestTimer = downstream.eventLoop.scheduleTask(in: .nanoseconds(timeout.clampedNanoseconds)) { channel.close(promise: nil) }
    }

    // MARK: the client's side

    func downstreamRead(_ part: HTTPServerRequestPart) {
        switch part {
        case .head(let head):
            guard exchange == nil, request == nil else {
                // A pipelined request while one is in flight: not supported; the first is answered.
                return close()
            }
            armRequestTimer(core.limits.requestBodyTimeout)
            request = (head, [], false)
            if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                write(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n"))
            }
        case .body(var buffer):
            guard var current = request else { return }
            if current.body.count + buffer.readableBytes > core.limits.maxBodySize {
                current.bodyTooLarge = true
            } else if let bytes = buffer.readBytes(length: buffer.readableBytes) {
                current.body += bytes
            }
            request = current
        case .end:
            guard let current = request else { return }
            requestTimer?.cancel()
            requestTimer = nil
            request = nil
            begin(current.head, body: current.body, bodyTooLarge: current.bodyTooLarge)
        }
    }

    /// Backpressure: while the client's socket takes no more, the upstream is not read, so the
    /// proxy holds at most NIO's high watermark and one read for a slow client (a slow reader slows
    /// the upstream's sending, as through any proxy that does not buffer).
    func downstreamWritabilityChanged(_ writable: Bool) {
        try? upstream?.syncOptions?.setOption(.autoRead, value: writable)
    }

    func downstreamClosed() {
        guard !finished else { return }
        finish(reason: answered ? "the client left" : "the client left before the answer")
    }

    // MARK: an exchange

    private func begin(_ head: HTTPRequestHead, body: [UInt8], bodyTooLarge: Bool) {
        let number = core.opened(self, on: downstream.eventLoop)
        exchange = number
        answered = false
        finished = false
        reader = HTTPResponseReader()
        ignoresUpstream = false
        keepAlive = head.isKeepAlive
        requestVersion = head.version
        exchangeMethodIsHead = head.method == .HEAD
        let fields = head.headers.map { (name: $0.name, value: $0.value) }
        core.report(.request(connection: number, method: head.method.rawValue, target: head.uri, headers: fields.map(HeaderField.init)))
        let headBytes = head.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 } + head.uri.utf8.count
        if headBytes > core.limits.maxHeaderSize {
            return answerLocally(431, "request head of \(headBytes) bytes is over the limit of \(core.limits.maxHeaderSize)")
        }
        if bodyTooLarge { return answerLocally(413, "request body larger than the limit of \(core.limits.maxBodySize) bytes") }
        if let rejection = core.takeRejection() { return answerLocally(rejection) }
        let upstreamHead: RequestHead
        do {
            upstreamHead = try RequestHead(
                method: head.method.rawValue, url: core.upstream.appending(target: head.uri),
                headers: ForwardedHeaders.upstreamRequest(fields, clientAddress: clientAddress))
        } catch {
            return answerLocally(400, "cannot forward the request: \(error)")
        }
        let bytes = upstreamHead.bytes(contentLength: body.isEmpty && !head.method.expectsBody ? nil : body.count) + body
        let bound = NIOLoopBound(self, eventLoop: downstream.eventLoop)
        core.connectUpstream(on: downstream.eventLoop, handler: { UpstreamHandler(connection: bound.value) })
            .whenComplete { result in
                let connection = bound.value
                switch result {
                case .success(let channel):
                    guard connection.exchange == number, !connection.finished else {
                        channel.close(promise: nil)
                        return
                    }
                    connection.upstream = channel
                    if !connection.downstream.isWritable { connection.downstreamWritabilityChanged(false) }
                    channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
                case .failure(let error as IOError) where error.errnoCode == EMFILE || error.errnoCode == ENFILE:
                    // Not the upstream's fault: the proxy has no descriptor left for a second socket.
                    guard connection.exchange == number else { return }
                    connection.answerLocally(
                        503, "the proxy is out of file descriptors (the limit is \(Acceptor.descriptorLimit())): no connection to the upstream")
                case .failure(let error):
                    guard connection.exchange == number else { return }
                    connection.answerLocally(502, "cannot reach the upstream \(connection.core.upstream.hostHeader): \(error)")
                }
            }
    }

    /// Answers the request without the upstream: a `reject`, a limit, or an unreachable upstream.
    private func answerLocally(_ status: Int, _ message: String) {
        if let exchange { core.report(.problem(connection: exchange, message)) }
        answerLocally(Rejection(status: status, body: message + "\n"))
    }

    private func answerLocally(_ rejection: Rejection) {
        let body = Array((rejection.body ?? "").utf8)
        var fields = rejection.headers.map { (name: $0.name, value: $0.value) }
        if !fields.contains(where: { $0.name.lowercased() == "content-type" }) {
            fields.append(("Content-Type", rejection.contentType ?? "text/plain; charset=utf-8"))
        }
        fields.append(("Content-Length", String(body.count)))
        fields.append(("Via", ForwardedHeaders.via))
        fields.append(("Connection", "close"))
        answered = true
        report(status: rejection.status, reason: Self.reason(rejection.status), fields: fields)
        write(Self.statusLine(rejection.status, Self.reason(rejection.status), fields) + body)
        finish(reason: "answered by the proxy (\(rejection.status))")
        closeDownstream()
    }

    // MARK: the upstream's side

    func upstreamRead(_ buffer: ByteBuffer) {
        guard !finished, !ignoresUpstream else { return }
        do throws(HTTPResponseReader.Failure) {
            try buffer.withUnsafeReadableBytes { bytes throws(HTTPResponseReader.Failure) in
                try reader.read(bytes) { event in
                    guard !finished else { return }
                    switch event {
                    case .head(let head) where (100..<200).contains(head.status):
                        skipsInterimEnd = true  // 100 Continue, 103 Early Hints: not the answer
                    case .head(let head): forwardHead(head)
                    case .body(let range): forwardBody(UnsafeRawBufferPointer(rebasing: bytes[range]))
                    case .end where skipsInterimEnd: skipsInterimEnd = false
                    case .end: endOfAnswer(reason: "the upstream ended the answer")
                    }
                }
            }
        } catch {
            if answered {
                drop(.truncate, reason: "the upstream's answer broke HTTP framing: \(error)")
            } else {
                answerLocally(502, "the upstream's answer broke HTTP framing: \(error)")
            }
        }
        flushes.flushIfBatchIsFull()
    }

    func upstreamClosed() {
        upstream = nil
        guard !finished, !ignoresUpstream else { return }
        if !answered {
            answerLocally(502, "the upstream closed the connection without answering")
        } else if upstreamDelimitsByClose {
            endOfAnswer(reason: "the upstream closed the stream")
        } else {
            drop(.truncate, reason: "the upstream closed the connection in the middle of the answer")
        }
    }

    private func forwardHead(_ head: HTTPResponseReader.Head) {
        guard let exchange else { return }
        // What goes to the client must not split its response: names are tokens, values and the
        // reason hold no CR, LF or other control.
        let clean =
            HTTPSyntax.isFieldValue(head.reason)
            && head.headers.allSatisfy { HTTPSyntax.isToken($0.name) && HTTPSyntax.isFieldValue($0.value) }
        guard clean else {
            ignoresUpstream = true
            return answerLocally(502, "the upstream's answer has a header name or value that is not valid HTTP")
        }
        answered = true
        let contentType = head.value(of: "Content-Type")
        let isEventStream = contentType.map { $0.lowercased().hasPrefix("text/event-stream") } ?? false
        let fields = head.headers.map { (name: $0.name, value: $0.value) }
        var forwarded = ForwardedHeaders.downstreamResponse(fields)
        let length = head.value(of: "Content-Length")
        let chunkedUpstream = head.value(of: "Transfer-Encoding")?.lowercased().contains("chunked") ?? false
        let bodiless = exchangeMethodIsHead || head.status == 204 || head.status == 304 || (100..<200).contains(head.status)
        upstreamDelimitsByClose = !bodiless && !chunkedUpstream && length == nil
        if bodiless {
            framing = .none
            if let length { forwarded.append(("Content-Length", length)) }
        } else if let length, !isEventStream, !chunkedUpstream {
            framing = .length
            forwarded.append(("Content-Length", length))
        } else if downstreamSpeaksHTTP11 {
            framing = .chunked
            forwarded.append(("Transfer-Encoding", "chunked"))
        } else {
            framing = .untilClose
            keepAlive = false
        }
        if !keepAlive { forwarded.append(("Connection", "close")) }
        if isEventStream, !bodiless {
            let pending = core.faultsForNewStream()
            relay = EventRelay(faults: pending.relay, reportsEvents: core.reportsEvents)
            pacing = pending.pacing
        } else {
            relay = nil
            pacing = Pacing()
        }
        core.report(
            .response(
                connection: exchange, status: head.status, reason: head.reason, contentType: contentType, isEventStream: isEventStream,
                headers: head.headers.map { HeaderField(name: $0.name, value: $0.value) }))
        write(Self.statusLine(head.status, head.reason, forwarded))
        if bodiless { endOfAnswer(reason: "the upstream answered without a body") }
    }

    private func forwardBody(_ bytes: UnsafeRawBufferPointer) {
        guard let exchange else { return }
        // Without pacing, a chunked answer's read is framed in place: a chunk-size of eight hex digits
        // (leading zeros are allowed) written before the body and filled in after, one buffer a read.
        let framesInPlace = framing == .chunked && pacing.isEmpty && pacingQueue.isEmpty
        var output = downstream.allocator.buffer(capacity: bytes.count + 32)
        if framesInPlace { output.writeStaticString("00000000\r\n") }
        let bodyStart = output.writerIndex
        var verdict = EventRelay.Verdict.carryOn
        if var current = relay {
            relay = nil  // moved out, so that relaying does not copy its buffers
            verdict = current.relay(bytes, into: &output) { core.report(.observed(connection: exchange, $0)) }
            relay = current
        } else {
            output.writeBytes(bytes)
        }
        let bodySize = output.writerIndex - bodyStart
        if framesInPlace, bodySize > 0 {
            Self.setChunkSize(bodySize, in: &output)
            output.writeStaticString("\r\n")
            write(output)
        } else if bodySize > 0 {
            output.moveReaderIndex(to: bodyStart)
            sendBody(output)
        }
        if case .drop(let mode) = verdict {
            // Nothing more from the upstream counts; the drop waits for what pacing still holds.
            ignoresUpstream = true
            whenDrained { self.drop(mode, reason: "dropped by the proxy (\(mode.rawValue)) after the events asked") }
        }
    }

    private func endOfAnswer(reason: String) {
        whenDrained {
            if self.framing == .chunked { self.write(HTTPResponse.lastChunk(allocator: self.downstream.allocator)) }
            let reusable = self.keepAlive && self.framing != .untilClose
            self.finish(reason: reason, byUpstream: true)
            if reusable { self.armRequestTimer(self.core.limits.requestHeadTimeout) } else { self.closeDownstream() }
        }
    }

    // MARK: ending

    /// Ends the downstream connection on purpose (a fault, a limit) and the exchange with it.
    func drop(_ mode: DropMode, reason: String) {
        guard !finished else { return }
        discardPacingQueue()
        if mode == .clean, framing == .chunked { write(HTTPResponse.lastChunk(allocator: downstream.allocator)) }
        finish(reason: reason)
        switch mode {
        case .clean, .truncate, .stream, .connection:
            closeDownstream()
        case .reset:
            flushWrites()
            let channel = downstream
            if let provider = channel as? SocketOptionProvider {
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                channel.close(promise: nil)
            }
        }
    }

    private func close() {
        finish(reason: "the client sent a second request before the first was answered")
        closeDownstream()
    }

    private func finish(reason: String, byUpstream: Bool = false) {
        guard !finished, let exchange else {
            finished = true
            return
        }
        finished = true
        upstream?.close(promise: nil)
        upstream = nil
        relay = nil
        core.report(.ended(connection: exchange, reason: reason, byUpstream: byUpstream))
        core.closed(exchange)
        self.exchange = nil
    }

    // MARK: writing

    private func write(_ bytes: [UInt8]) { write(downstream.allocator.buffer(bytes: bytes)) }

    /// Writes `buffer` to the client (sent at the end of this turn of the loop), or drops the client
    /// when what it has left unread would pass `maxQueuedBytes`.
    func write(_ buffer: ByteBuffer) {
        // What NIO still holds for the socket (the kernel's buffer is full): the client reads too slowly.
        let waiting = (writesInNIO > 0 ? (try? downstream.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0 : 0) + (unsent?.readableBytes ?? 0)
        guard waiting + buffer.readableBytes <= core.limits.maxQueuedBytes else {
            return drop(.truncate, reason: "the client read too slowly: over \(core.limits.maxQueuedBytes) bytes were waiting for it")
        }
        if writer.isDirect, writesInNIO == 0 {
            if unsent == nil { unsent = buffer } else { unsent?.writeImmutableBuffer(buffer) }
        } else {
            writeThroughNIO(buffer)
        }
        if !flushIsDue {
            flushIsDue = true
            flushes.flushSoon(self)
        }
    }

    /// Sends what this turn wrote: straight to the socket, and what it does not take (all of it on
    /// an error, which NIO then meets and reports) through NIO, which waits for the socket.
    func flushWrites() {
        flushIsDue = false
        if var rest = unsent {
            unsent = nil
            if downstream.isActive {
                rest.moveReaderIndex(forwardBy: writer.sendDirectly(rest))
            }
            if rest.readableBytes > 0 { writeThroughNIO(rest) }
        }
        if writesInNIO > 0 { downstream.flush() }
    }

    private func writeThroughNIO(_ buffer: ByteBuffer) {
        writesInNIO += 1
        let written = downstream.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenComplete { [self] _ in writesInNIO -= 1 }
        downstream.write(buffer, promise: written)
    }

    /// Closes the client's connection after what was written to it (NIO drops unflushed writes).
    private func closeDownstream() {
        flushWrites()
        downstream.close(promise: nil)
    }

    /// Fills the eight hex digits written in front of a read's body with its size (a read is far
    /// below 16^8 bytes: NIO's reads are at most a few MiB).
    private static func setChunkSize(_ size: Int, in output: inout ByteBuffer) {
        let hex: StaticString = "0123456789abcdef"
        var remaining = size
        for position in (0..<8).reversed() {
            output.setInteger(hex.utf8Start[remaining & 0xF], at: output.readerIndex + position)
            remaining >>= 4
        }
    }

    private static func statusLine(_ status: Int, _ reason: String, _ fields: [(name: String, value: String)]) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(reason)\r\n"
        for field in fields { text += "\(field.name): \(field.value)\r\n" }
        return Array((text + "\r\n").utf8)
    }

    private func report(status: Int, reason: String, fields: [(name: String, value: String)]) {
        guard let exchange else { return }
        let contentType = fields.first { $0.name.lowercased() == "content-type" }?.value
        core.report(
            .response(
                connection: exchange, status: status, reason: reason, contentType: contentType, isEventStream: false,
                headers: fields.map(HeaderField.init)))
    }

    private static func reason(_ status: Int) -> String { HTTPResponseStatus(statusCode: status).reasonPhrase }

    private var downstreamSpeaksHTTP11: Bool { requestVersion.major == 1 && requestVersion.minor >= 1 }
    private var requestVersion: HTTPVersion = .http1_1
    private var exchangeMethodIsHead = false
}

extension HTTPMethod {
    /// Methods whose requests carry a body (and so a `Content-Length`, even of 0).
    fileprivate var expectsBody: Bool { self == .POST || self == .PUT || self == .PATCH }
}

extension HeaderField {
    fileprivate init(_ field: (name: String, value: String)) { self.init(name: field.name, value: field.value) }
}
