import EventStream

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads HTTP/1.1 responses from raw bytes, without I/O: the status line and headers, then the
/// body de-chunked, or of `Content-Length`, or as it comes until the connection ends, handing body
/// bytes straight to the caller — the short path from socket to `EventStreamParser`. After a
/// response with a known end it reads the next one (keep-alive, pipelining).
///
/// Invariant: memory held is bounded by `maxHeadSize` while reading the head and by one chunk-size
/// line afterwards; trailers are counted, not kept, and bounded by `maxHeadSize` as well; body
/// bytes are never copied into a buffer of their own. A malformed head, length or chunk is a
/// `Failure` thrown after every valid item before it was handed over.
public struct HTTPResponseReader: Sendable {
    /// A response's status line and header fields, as received.
    public struct Head: Sendable, Hashable {
        public var status: Int
        public var reason: String
        public var headers: [Header]

        /// One header field: its name as sent and its value.
        public struct Header: Sendable, Hashable {
            public var name: String
            public var value: String
        }

        /// The first value of the header `name` (case-insensitive).
        public func value(of name: String) -> String? {
            let lowered = name.lowercased()
            return headers.first { $0.name.lowercased() == lowered }?.value
        }
    }

    /// What a read produced, in order: the head once, then ranges of body bytes within the read.
    public enum Event: Equatable {
        case head(Head)
        /// Body bytes: a range of the buffer passed to `read`.
        case body(Range<Int>)
        /// The response ended (its last chunk, its `Content-Length`, or a status without a body).
        case end
    }

    /// A response that breaks HTTP/1.1 framing, with what was wrong (it ends the connection).
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    private enum State: Sendable {
        case head
        case chunkSize
        case fixed(remaining: Int)
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case identity
    }

    public var maxHeadSize: Int
    private var state = State.head
    private var pending: [UInt8] = []
    /// Bytes of trailers read since the last chunk; bounded by `maxHeadSize`.
    private var trailerBytes = 0

    public init(maxHeadSize: Int = 64 << 10) {
        self.maxHeadSize = maxHeadSize
    }

    /// Reads `bytes`, reporting the head once, then body ranges, then the end of a chunked body.
    public mutating func read(_ bytes: UnsafeRawBufferPointer, _ handle: (Event) -> Void) throws(Failure) {
        var index = 0
        while index < bytes.count {
            switch state {
            case .head:
                while index < bytes.count, !headComplete(appending: bytes[index]) { index += 1 }
                if index == bytes.count {
                    if pending.count > maxHeadSize { throw Failure(description: "response head larger than \(maxHeadSize) bytes") }
                    return
                }
                index += 1
                let head = try parseHead()
                pending.removeAll()
                if (100..<200).contains(head.status) { continue }
                let chunked = head.value(of: "Transfer-Encoding")?.lowercased().contains("chunked") ?? false
                let length = chunked ? nil : try Self.contentLength(of: head)
                handle(.head(head))
                if head.status == 204 || head.status == 304 || length == 0 {
                    handle(.end)
                    state = .head
                } else if chunked {
                    state = .chunkSize
                } else if let length {
                    state = .fixed(remaining: length)
                } else {
                    state = .identity
                }
            case .identity:
                handle(.body(index..<bytes.count))
                return
            case .fixed(let remaining):
                let take = min(remaining, bytes.count - index)
                handle(.body(index..<(index + take)))
                index += take
                if take == remaining {
                    handle(.end)
                    state = .head
                } else {
                    state = .fixed(remaining: remaining - take)
                }
            case .chunkSize:
                // Usually the whole size line is in this read: parse it where it lies.
                if pending.isEmpty, let base = bytes.baseAddress,
                    let found = memchr(base + index, Int32(UInt8(ascii: "\n")), min(bytes.count - index, Self.maxChunkSizeLine + 1))
                {
                    let end = base.distance(to: UnsafeRawPointer(found))
                    state = try Self.chunkState(sizeLine: UnsafeRawBufferPointer(rebasing: bytes[index..<end]))
                    index = end + 1
                    continue
                }
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\n") {
                    let line = pending
                    pending.removeAll()
                    state = try line.withUnsafeBytes { line in Result { () throws(Failure) in try Self.chunkState(sizeLine: line) } }.get()
                } else {
                    pending.append(byte)
                    if pending.count > Self.maxChunkSizeLine {
                        throw Failure(description: "chunk-size line longer than \(Self.maxChunkSizeLine) bytes")
                    }
                }
            case .chunkData(let remaining):
                let take = min(remaining, bytes.count - index)
                handle(.body(index..<(index + take)))
                index += take
                state = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)
            case .chunkDataEnd:
                if bytes[index] == UInt8(ascii: "\n") { state = .chunkSize }
                index += 1
            case .trailers:
                let byte = bytes[index]
                index += 1
                trailerBytes += 1
                if trailerBytes > maxHeadSize { throw Failure(description: "trailers larger than \(maxHeadSize) bytes") }
                if byte == UInt8(ascii: "\n") {
                    if pending.isEmpty || pending == [UInt8(ascii: "\r")] {
                        state = .head
                        trailerBytes = 0
                        handle(.end)
                    }
                    pending.removeAll()
                } else if pending.count < 2 {
                    // Only whether a line is empty (or a lone CR) matters: a trailer's bytes are not kept.
                    pending.append(byte)
                }
            }
        }
    }

    private static let maxChunkSizeLine = 1024

    /// The body length a `Content-Length` announces: every value given (repeated, or as a list) is
    /// the same run of decimal digits that fits in an Int (RFC 9110 §8.6); anything else — a sign,
    /// spaces inside, two different lengths — is a malformed response. Nil without the header.
    static func contentLength(of head: Head) throws(Failure) -> Int? {
        var length: Int?
        for header in head.headers where header.name.lowercased() == "content-length" {
            for item in header.value.split(separator: ",", omittingEmptySubsequences: false) {
                let text = HTTPSyntax.trimmingWhitespace(item)
                guard !text.isEmpty, text.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }), let value = Int(text),
                    length == nil || length == value
                else { throw Failure(description: "malformed Content-Length \(header.value.debugDescription)") }
                length = value
            }
        }
        return length
    }

    /// What follows a chunk-size line (without its LF): the chunk's data, or the trailers after the last chunk.
    /// The size is one or more hex digits, ended by the line, a CR, a space or a `;` extension.
    private static func chunkState(sizeLine line: UnsafeRawBufferPointer) throws(Failure) -> State {
        let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: " ") }
        var size = 0
        for byte in digits {
            guard let value = hexValue(byte), size <= (Int.max - value) / 16 else { throw malformedChunkSize(digits) }
            size = size * 16 + value
        }
        guard !digits.isEmpty else { throw malformedChunkSize(digits) }
        return size == 0 ? .trailers : .chunkData(remaining: size)
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: nil
        }
    }

    private static func malformedChunkSize(_ size: Slice<UnsafeRawBufferPointer>) -> Failure {
        Failure(description: "malformed chunk size \(String(decoding: size, as: UTF8.self).debugDescription)")
    }

    private mutating func headComplete(appending byte: UInt8) -> Bool {
        pending.append(byte)
        return byte == UInt8(ascii: "\n") && pending.count >= 4 && pending.suffix(4).elementsEqual("\r\n\r\n".utf8)
            || byte == UInt8(ascii: "\n") && pending.count >= 2 && pending.suffix(2).elementsEqual("\n\n".utf8)
    }

    private func parseHead() throws(Failure) -> Head {
        let text = String(decoding: pending, as: UTF8.self)
        var lines = text.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }.makeIterator()
        guard let statusLine = lines.next() else { throw Failure(description: "empty response") }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            throw Failure(description: "not an HTTP response: \(String(statusLine.prefix(80)).debugDescription)")
        }
        var headers: [Head.Header] = []
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            headers.append(.init(name: String(line[..<colon]), value: String(value)))
        }
        return Head(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers)
    }
}
