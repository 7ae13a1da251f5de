import NIOCore
import NIOHTTP1

/// Reads the HTTP/1.1 response bytes the server writes (a head, then a body framed by
/// `Content-Length` or chunked) back into parts, so the same handler can answer on an HTTP/2 stream,
/// where the framing is HTTP/2's own. Pure: bytes in, parts out; any split of the bytes gives the
/// same parts.
///
/// Invariants: parts come as one `head`, any `body` pieces, then at most one `end`; connection-specific
/// headers (`Connection`, `Transfer-Encoding`, …, RFC 9113 §8.2.2) never reach a head; bytes after
/// the end, or after a head that cannot be read, are ignored (`isFinished`).
package struct ResponseUnframer {
    package enum Part: Equatable {
        case head(HTTPResponseHead)
        case body(ByteBuffer)
        case end
    }

    private enum State {
        case head
        /// A chunk's size line is awaited.
        case chunkSize
        /// This many bytes of a chunk's data remain.
        case chunkData(Int)
        /// The CRLF after a chunk's data.
        case chunkDataEnd
        /// After the last chunk: trailer lines until the empty one.
        case trailers
        case length(Int)
        /// A body that ends when the connection does (`finishAtClose`).
        case untilClose
        /// The response is whole: its `end` is next.
        case ending
        case finished
    }

    /// The longest response head read (the server writes far shorter ones).
    static let maxHeadSize = 64 << 10
    private static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"]

    private var state = State.head
    private var pending = ByteBuffer()
    /// The response answers a HEAD request: it has no body whatever its headers say.
    private let answersHEAD: Bool

    package init(answersHEAD: Bool = false) {
        self.answersHEAD = answersHEAD
    }

    /// The response is complete (or unreadable); nothing more is read.
    package var isFinished: Bool {
        if case .finished = state { true } else { false }
    }

    /// The parts `bytes` complete.
    package mutating func feed(_ bytes: ByteBuffer) -> [Part] {
        guard !isFinished else { return [] }
        // The common case of an event stream on HTTP/2: body bytes passed on as they are, uncopied.
        if case .untilClose = state, pending.readableBytes == 0 { return bytes.readableBytes > 0 ? [.body(bytes)] : [] }
        pending.writeImmutableBuffer(bytes)
        var parts: [Part] = []
        while let part = next() {
            parts.append(part)
            if isFinished { break }
        }
        if pending.readerIndex > 4096 { pending.discardReadBytes() }
        return parts
    }

    /// The end of a body that runs to the close of the connection (its writer closed its output);
    /// nil when the body is framed (its end then never came: the stream is cut, not ended).
    package mutating func finishAtClose() -> Part? {
        guard case .untilClose = state else { return nil }
        state = .finished
        return .end
    }

    private mutating func next() -> Part? {
        switch state {
        case .head:
            return readHead()
        case .chunkSize:
            guard let line = readLine() else { return nil }
            let hex = line.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            guard let size = Int(hex.trimmingCharacters(in: " \t"), radix: 16), size >= 0 else { return fail() }
            state = size == 0 ? .trailers : .chunkData(size)
            return next()
        case .chunkData(let remaining):
            return readBody(upTo: remaining) { $0 == 0 ? .chunkDataEnd : .chunkData($0) }
        case .chunkDataEnd:
            guard let line = readLine() else { return nil }
            guard line.isEmpty else { return fail() }
            state = .chunkSize
            return next()
        case .trailers:
            guard let line = readLine() else { return nil }
            if line.isEmpty {
                state = .finished
                return .end
            }
            return next()
        case .length(let remaining):
            return readBody(upTo: remaining) { $0 == 0 ? .ending : .length($0) }
        case .untilClose:
            return readBody(upTo: Int.max) { _ in .untilClose }
        case .ending:
            state = .finished
            return .end
        case .finished:
            return nil
        }
    }

    /// The body bytes waiting, at most `limit`; the state after them from what is left of the limit.
    private mutating func readBody(upTo limit: Int, then nextState: (Int) -> State) -> Part? {
        guard pending.readableBytes > 0, let slice = pending.readSlice(length: min(limit, pending.readableBytes)) else { return nil }
        state = nextState(limit - slice.readableBytes)
        return .body(slice)
    }

    private mutating func readHead() -> Part? {
        let view = pending.readableBytesView
        guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
            return pending.readableBytes > Self.maxHeadSize ? fail() : nil
        }
        let text = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
        pending.moveReaderIndex(to: end.upperBound)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, let status = Int(statusLine[1]), (100...599).contains(status) else { return fail() }
        var headers = HTTPHeaders()
        var chunked = false
        var length: Int?
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { return fail() }
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            let lowered = name.lowercased()
            if lowered == "transfer-encoding" { chunked = value.lowercased().hasSuffix("chunked") }
            if lowered == "content-length" { length = Int(value) }
            if !Self.hopByHop.contains(lowered) { headers.add(name: name, value: value) }
        }
        if answersHEAD || status < 200 || status == 204 || status == 304 {
            state = .ending
        } else if chunked {
            state = .chunkSize
        } else if let length {
            state = length > 0 ? .length(length) : .ending
        } else {
            state = .untilClose
        }
        return .head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers))
    }

    /// A line ending in CRLF, without it; nil until one is whole.
    private mutating func readLine() -> String? {
        let view = pending.readableBytesView
        guard let end = view.firstRange(of: [13, 10]) else {
            if pending.readableBytes > Self.maxHeadSize { _ = fail() }
            return nil
        }
        let line = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
        pending.moveReaderIndex(to: end.upperBound)
        return line
    }

    private mutating func fail() -> Part? {
        state = .finished
        pending.clear()
        return nil
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        Substring(self).trimmingCharacters(in: set)
    }
}
