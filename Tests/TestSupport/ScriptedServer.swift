import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A raw-socket HTTP server for client tests that can send any bytes, status and headers: each
/// accepted connection reads one request, then plays the next script of steps.
public final class ScriptedServer: Sendable {
    public enum Step: Sendable {
        case send(String)
        case sendBytes([UInt8])
        case pause(milliseconds: Int)
        /// Close cleanly (FIN).
        case close
        /// Close with SO_LINGER {1,0}: a TCP reset.
        case reset
        /// Keep the connection open until the client goes away.
        case hold
    }

    public let port: Int
    private let listener: Int32
    private let scripts: [[Step]]
    private let state = Mutex<(requests: [String], stopped: Bool)>(([], false))

    /// Serves `scripts[n]` to connection n (the last script repeats).
    public init(_ scripts: [[Step]]) throws {
        self.scripts = scripts
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else {
            close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        listener = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// The requests received so far (request line, headers and body), in order.
    public var requests: [String] { state.withLock { $0.requests } }

    /// Stops accepting. The listener is shut down here and closed by the accept thread once it has
    /// seen that: closed here, its descriptor could be reused (by the next test's listener) before
    /// the accept thread's next `accept`, which would then take and drop another server's connection.
    public func stop() {
        let first = state.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        // Only the first stop (an explicit one, then deinit's) shuts the listener down: the accept
        // thread closes it after that, and its number may by then belong to another test's socket.
        if first { shutdown(listener, Int32(SHUT_RDWR)) }
    }

    deinit { stop() }

    private func acceptLoop() {
        var index = 0
        defer { close(listener) }
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                // The listener is closed (by the defer) only once stop() has shut it down, so that
                // stop() never touches a number that was closed and reused.
                while !state.withLock({ $0.stopped }) { usleep(10_000) }
                return
            }
            if state.withLock({ $0.stopped }) {
                close(connection)
                return
            }
            let script = scripts[min(index, scripts.count - 1)]
            index += 1
            let thread = Thread { [self] in serve(connection, script) }
            thread.start()
        }
    }

    private func serve(_ connection: Int32, _ script: [Step]) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = received.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: received[..<end.lowerBound], as: UTF8.self)
                let length =
                    head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if received.count >= end.upperBound + length { break }
            }
            let count = recv(connection, &buffer, buffer.count, 0)
            if count <= 0 {
                close(connection)
                return
            }
            received += buffer[..<count]
        }
        state.withLock { $0.requests.append(String(decoding: received, as: UTF8.self)) }
        for step in script {
            switch step {
            case .send(let text): _ = sendAll(connection, Array(text.utf8))
            case .sendBytes(let bytes): _ = sendAll(connection, bytes)
            case .pause(let milliseconds): usleep(UInt32(milliseconds) * 1000)
            case .close:
                close(connection)
                return
            case .reset:
                var option = linger(l_onoff: 1, l_linger: 0)
                setsockopt(connection, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
                close(connection)
                return
            case .hold:
                while recv(connection, &buffer, buffer.count, 0) > 0 {}
                close(connection)
                return
            }
        }
        close(connection)
    }

    private func sendAll(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(connection, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// A response head for an event stream (no Content-Length: the body ends when the connection does).
    public static let streamHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"

    /// A complete response without a body.
    public static func status(_ code: Int, _ reason: String, headers: [String] = []) -> String {
        "HTTP/1.1 \(code) \(reason)\r\n" + headers.map { $0 + "\r\n" }.joined() + "Content-Length: 0\r\n\r\n"
    }
}
