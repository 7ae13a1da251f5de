import EventStream
import Foundation
import SSEServer
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A blocking TCP connection to 127.0.0.1 for tests: sees exactly what arrives, read by read, and
/// tells a reset from a clean end. Every read has a timeout, so no test can hang.
public final class RawConnection {
    public enum ReadResult: Equatable, Sendable {
        case bytes([UInt8])
        case end
        case reset
        case timeout
    }

    public let descriptor: Int32

    public init(port: Int, receiveBuffer: Int32? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket: \(errno)") }
        if var size = receiveBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(descriptor)
            throw TestFailure("connect to port \(port): errno \(errno)")
        }
    }

    deinit { if !isClosed { close(descriptor) } }

    private var isClosed = false

    /// Closes with SO_LINGER 0: the peer gets a TCP reset, whatever was in flight is thrown away.
    public func reset() {
        guard !isClosed else { return }
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close(descriptor)
        isClosed = true
    }

    public func send(_ text: String) { send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    /// One `recv`, waiting at most `timeout` seconds.
    public func read(timeout: Double = 5, maximum: Int = 1 << 20) -> ReadResult {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, Int32(timeout * 1000))
        guard ready > 0 else { return .timeout }
        var buffer = [UInt8](repeating: 0, count: maximum)
        let count = recv(descriptor, &buffer, maximum, 0)
        if count > 0 { return .bytes(Array(buffer[..<count])) }
        if count == 0 { return .end }
        return errno == ECONNRESET ? .reset : .end
    }

    /// Reads until `done` holds for everything read so far, the peer closes, or `timeout` passes.
    public func read(until done: ([UInt8]) -> Bool, timeout: Double = 5) -> (bytes: [UInt8], last: ReadResult) {
        var all: [UInt8] = []
        let deadline = Self.now() + timeout
        while !done(all) {
            let remaining = deadline - Self.now()
            guard remaining > 0 else { return (all, .timeout) }
            let result = read(timeout: remaining)
            guard case .bytes(let bytes) = result else { return (all, result) }
            all += bytes
        }
        return (all, .bytes([]))
    }

    public static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A parsed HTTP response head.
public struct ResponseHead {
    public var status: Int
    public var headers: [(String, String)]

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// Splits `bytes` at the end of the head; nil until the head is complete.
    public static func parse(_ bytes: [UInt8]) -> (head: ResponseHead, rest: [UInt8])? {
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        let text = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return (ResponseHead(status: status, headers: headers), Array(bytes[end.upperBound...]))
    }
}

/// An HTTP client for one simple request with a `Content-Length` answer.
public func httpRequest(port: Int, _ method: String, _ path: String, headers: [String] = [], body: String = "") throws -> (ResponseHead, String) {
    let connection = try RawConnection(port: port)
    var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    for header in headers { request += header + "\r\n" }
    if !body.isEmpty || method == "POST" { request += "Content-Length: \(body.utf8.count)\r\n" }
    request += "\r\n" + body
    connection.send(request)
    let (bytes, _) = connection.read(until: { _ in false }, timeout: 3)
    guard let (head, rest) = ResponseHead.parse(bytes) else { throw TestFailure("no response head in \(String(decoding: bytes, as: UTF8.self))") }
    return (head, String(decoding: rest, as: UTF8.self))
}

/// A subscriber that reads an event stream the way a client would: HTTP head, chunked body decoded,
/// bytes parsed with `EventStreamParser`, and every raw read kept for tests about the wire.
public final class StreamSubscriber {
    public let connection: RawConnection
    public private(set) var head: ResponseHead?
    public private(set) var reads: [[UInt8]] = []
    public private(set) var outputs: [EventStreamParser.Output] = []
    public private(set) var ended: RawConnection.ReadResult?
    private var pending: [UInt8] = []
    private var parser = EventStreamParser(reportsComments: true)
    public private(set) var sawLastChunk = false
    /// The response body so far, de-chunked: the event-stream bytes as the server wrote them.
    public private(set) var body: [UInt8] = []

    public init(port: Int, path: String, method: String = "GET", headers: [String] = [], body: String? = nil, receiveBuffer: Int32? = nil) throws {
        connection = try RawConnection(port: port, receiveBuffer: receiveBuffer)
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        for header in headers { request += header + "\r\n" }
        if let body { request += "Content-Length: \(body.utf8.count)\r\n" }
        connection.send(request + "\r\n" + (body ?? ""))
    }

    public var events: [ServerSentEvent] {
        outputs.compactMap { if case .event(let event) = $0 { event } else { nil } }
    }

    public var comments: [String] {
        outputs.compactMap { if case .comment(let text) = $0 { text } else { nil } }
    }

    /// Reads until `done()` holds, the stream ends, or `timeout` passes; returns whether `done()` held.
    @discardableResult
    public func read(timeout: Double = 5, until done: () -> Bool) -> Bool {
        let deadline = RawConnection.now() + timeout
        while !done() {
            guard ended == nil else { return false }
            let remaining = deadline - RawConnection.now()
            guard remaining > 0 else { return false }
            let result = connection.read(timeout: remaining)
            switch result {
            case .bytes(let bytes):
                reads.append(bytes)
                consume(bytes)
            case .timeout:
                return done()
            case .end, .reset:
                ended = result
            }
        }
        return true
    }

    /// One read of at most `maximum` bytes, waiting at most `timeout` seconds for it.
    public func readOnce(maximum: Int, timeout: Double) {
        guard ended == nil else { return }
        switch connection.read(timeout: timeout, maximum: maximum) {
        case .bytes(let bytes):
            reads.append(bytes)
            consume(bytes)
        case .timeout:
            break
        case let result:
            ended = result
        }
    }

    public func waitForHead(timeout: Double = 5) throws -> ResponseHead {
        read(timeout: timeout) { head != nil }
        guard let head else { throw TestFailure("no response head (ended: \(String(describing: ended)))") }
        return head
    }

    public func waitForEvents(_ count: Int, timeout: Double = 5) -> [ServerSentEvent] {
        read(timeout: timeout) { events.count >= count }
        return events
    }

    private func consume(_ bytes: [UInt8]) {
        pending += bytes
        if head == nil {
            guard let (parsed, rest) = ResponseHead.parse(pending) else { return }
            head = parsed
            pending = rest
        }
        guard let head else { return }
        if head.header("Transfer-Encoding")?.lowercased() == "chunked" {
            while let lineEnd = pending.firstRange(of: Array("\r\n".utf8)) {
                let sizeText = String(decoding: pending[..<lineEnd.lowerBound], as: UTF8.self)
                guard let size = Int(sizeText, radix: 16) else { return }
                let start = lineEnd.upperBound
                if size == 0 {
                    sawLastChunk = true
                    pending.removeAll()
                    return
                }
                guard pending.count >= start + size + 2 else { return }
                let payload = Array(pending[start..<(start + size)])
                pending.removeFirst(start + size + 2)
                body += payload
                try? parser.parse(payload) { outputs.append($0) }
            }
        } else {
            let payload = pending
            pending.removeAll()
            body += payload
            try? parser.parse(payload) { outputs.append($0) }
        }
    }
}

/// A port on 127.0.0.1 that takes connections (the kernel completes them) and never answers: a
/// server that hangs.
public final class SilentListener: Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 16) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw TestFailure("listen: errno \(errno)")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
