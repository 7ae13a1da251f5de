import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Accepts connections on a thread of its own and hands each to `adopt`, which makes it a NIO
/// channel on an event loop. Accepting here rather than in NIO is what tells the owner each
/// connection's descriptor, to which it writes directly: the server's `Subscriber` (fan-out frames)
/// and the proxy's `ProxyConnection` (what it relays to its clients).
///
/// Keeps calm when the process runs out of file descriptors: the first failure logs one line; every
/// pending connection is then accepted on a reserve descriptor (kept open for this) and answered 503
/// at once, and accepting pauses briefly before the next try. Existing connections are untouched;
/// when descriptors free up, the next connection is served and the recovery is logged.
///
/// Invariants: only the accept thread accepts, and it owns the reserve descriptor; the listening
/// descriptor and the wake pipe stay open until that thread has ended (`stop()`); an accepted
/// descriptor belongs to NIO from the moment it is handed to `adopt`.
package final class Acceptor: Sendable {
    package typealias Adopt = @Sendable (CInt) -> Void

    private static let pause: CInt = 100  // milliseconds
    private static let refusal: [UInt8] = {
        let body = "503 Service Unavailable: the server is out of file descriptors\n"
        let head =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        return Array((head + body).utf8)
    }()

    private let listening: CInt
    private let wakeRead: CInt
    private let wakeWrite: CInt
    private let pool: NIOThreadPool
    private let finished: EventLoopFuture<Void>

    /// Starts accepting on `listening` (a non-blocking listening socket, owned from here on).
    package init(listening: CInt, eventLoop: EventLoop, log: @escaping @Sendable (ServerLogEntry) -> Void, adopt: @escaping Adopt) throws {
        let (wakeRead, wakeWrite) = try Descriptors.pipe()
        self.listening = listening
        self.wakeRead = wakeRead
        self.wakeWrite = wakeWrite
        self.pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let reserve = Self.openReserve()
        finished = pool.runIfActive(eventLoop: eventLoop) {
            Self.acceptLoop(listening: listening, wake: wakeRead, reserve: reserve, log: log, adopt: adopt)
        }
    }

    /// Stops accepting and closes the listening socket; returns once the accept thread has ended.
    package func stop() async {
        var byte: UInt8 = 0
        _ = write(wakeWrite, &byte, 1)
        try? await finished.get()
        try? await pool.shutdownGracefully()
        for descriptor in [listening, wakeRead, wakeWrite] { closeDescriptor(descriptor) }
    }

    /// Waits for connections (or the wake pipe) and accepts every pending one.
    private static func acceptLoop(listening: CInt, wake: CInt, reserve: CInt, log: (ServerLogEntry) -> Void, adopt: Adopt) {
        var reserve = reserve
        var isExhausted = false
        var refused = 0
        defer { if reserve >= 0 { closeDescriptor(reserve) } }
        while true {
            var watched = [pollfd(fd: listening, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            guard poll(&watched, 2, -1) >= 0 || errno == EINTR else { return }
            if watched[1].revents != 0 { return }
            pending: while true {
                let descriptor = acceptConnection(listening)
                if descriptor >= 0 {
                    if isExhausted {
                        isExhausted = false
                        log(.descriptorsRecovered(refused: refused))
                        refused = 0
                    }
                    adopt(descriptor)
                    continue
                }
                switch errno {
                case EAGAIN, EWOULDBLOCK:
                    break pending
                case EINTR, ECONNABORTED, EPROTO:
                    continue
                case EMFILE, ENFILE:
                    if !isExhausted {
                        isExhausted = true
                        log(.descriptorsExhausted(limit: descriptorLimit()))
                    }
                    refused += refusePending(listening, reserve: &reserve)
                    if waitForWake(wake, milliseconds: pause) { return }
                    break pending
                default:  // ENOBUFS, ENOMEM: the kernel is short of memory for now
                    if waitForWake(wake, milliseconds: pause) { return }
                    break pending
                }
            }
        }
    }

    /// A pending connection's descriptor, non-blocking and closed on exec; -1 with `errno` set.
    private static func acceptConnection(_ listening: CInt) -> CInt {
        let descriptor = accept(listening, nil, nil)
        if descriptor >= 0 { Descriptors.makeNonBlockingAndCloseOnExec(descriptor) }
        return descriptor
    }

    /// Frees the reserve, answers every pending connection 503 and closes it, then takes the
    /// reserve back. Returns how many it refused.
    private static func refusePending(_ listening: CInt, reserve: inout CInt) -> Int {
        if reserve >= 0 {
            closeDescriptor(reserve)
            reserve = -1
        }
        var refused = 0
        while true {
            let descriptor = acceptConnection(listening)
            guard descriptor >= 0 else { break }
            var request = [UInt8](repeating: 0, count: 4096)
            _ = recv(descriptor, &request, request.count, Int32(MSG_DONTWAIT))
            _ = refusal.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            shutdown(descriptor, Int32(SHUT_WR))
            closeDescriptor(descriptor)
            refused += 1
        }
        reserve = openReserve()
        return refused
    }

    /// Sleeps up to `milliseconds`; true when woken to stop.
    private static func waitForWake(_ wake: CInt, milliseconds: CInt) -> Bool {
        var watched = pollfd(fd: wake, events: Int16(POLLIN), revents: 0)
        return poll(&watched, 1, milliseconds) > 0
    }

    private static func openReserve() -> CInt {
        open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    /// The process's limit on open descriptors (the soft one), or -1 when it cannot be read.
    package static func descriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return -1 }
        return Int(clamping: limit.rlim_cur)
    }
}

/// The process's descriptor limit (`ulimit -n`), which bounds how many connections one drip holds.
package enum DescriptorLimit {
    /// Descriptors a drip process keeps for itself (listening sockets, wake pipes, the acceptor's
    /// reserve, event loops, files): a wanted count above `limit - reserved` cannot fit.
    package static let reserved = 100

    /// Raises the soft limit to the hard one (a process may, without privilege) and returns the
    /// soft limit now in force; -1 when it cannot be read.
    @discardableResult
    package static func raiseToHard() -> Int {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { return Int(clamping: raised.rlim_max) }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// A sentence for a count of `what` (connections, subscribers) that cannot fit under the limit;
    /// nil when `wanted` fits.
    package static func warning(wanted: Int, what: String, limit: Int = Acceptor.descriptorLimit()) -> String? {
        guard limit > 0, wanted > limit - reserved else { return nil }
        return "ulimit -n is \(limit): at most ~\(max(0, limit - reserved)) \(what) fit in one process, fewer than the \(wanted) asked"
    }
}

// The system calls under names of their own: inside the types here, `close`, `bind`, `listen` and
// `pipe` would mean other methods.
private func closeDescriptor(_ descriptor: CInt) {
    _ = close(descriptor)
}

private func bindDescriptor(_ descriptor: CInt, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> CInt {
    bind(descriptor, address, length)
}

private func listenOn(_ descriptor: CInt, _ backlog: CInt) -> CInt {
    listen(descriptor, backlog)
}

/// The descriptor plumbing the server's own sockets and wake pipes share.
enum Descriptors {
    /// Non-blocking (a full pipe or an empty socket answers at once) and not inherited by a child process.
    static func makeNonBlockingAndCloseOnExec(_ descriptor: CInt) {
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    /// A pipe with both ends non-blocking and closed on exec: a way to wake a loop or a thread.
    static func pipe() throws -> (read: CInt, write: CInt) {
        var ends: [CInt] = [-1, -1]
        guard systemPipe(&ends) == 0 else { throw IOError(errnoCode: errno, reason: "pipe") }
        for end in ends { makeNonBlockingAndCloseOnExec(end) }
        return (ends[0], ends[1])
    }
}

private func systemPipe(_ ends: inout [CInt]) -> CInt {
    pipe(&ends)
}

#if canImport(Glibc)
    private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
    private let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
#endif

/// The listening socket, made here rather than by NIO: `Acceptor` accepts on it.
package enum ListeningSocket {
    /// A non-blocking socket bound to `host`:`port` and listening, and the address it is bound to
    /// (with the port the system chose when `port` is 0).
    package static func bind(host: String, port: Int, backlog: CInt) throws -> (descriptor: CInt, address: SocketAddress) {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        #if canImport(Glibc)
            let descriptor = socket(
                CInt(address.protocol.rawValue), CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue) | CInt(SOCK_NONBLOCK.rawValue), 0)
        #else
            let descriptor = socket(CInt(address.protocol.rawValue), SOCK_STREAM, 0)
            if descriptor >= 0 { Descriptors.makeNonBlockingAndCloseOnExec(descriptor) }
        #endif
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: CInt = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        let bound = address.withSockAddr { pointer, length in bindDescriptor(descriptor, pointer, socklen_t(length)) }
        guard bound == 0, listenOn(descriptor, backlog) == 0 else {
            let code = errno
            closeDescriptor(descriptor)
            throw IOError(errnoCode: code, reason: "bind")
        }
        guard let local = localAddress(of: descriptor) else {
            let code = errno
            closeDescriptor(descriptor)
            throw IOError(errnoCode: code, reason: "getsockname")
        }
        return (descriptor, local)
    }

    /// Closes a listening socket that never reached an `Acceptor`.
    package static func close(_ descriptor: CInt) {
        closeDescriptor(descriptor)
    }

    private static func localAddress(of descriptor: CInt) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { return nil }
        switch CInt(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: &storage) { SocketAddress($0.load(as: sockaddr_in.self)) }
        case AF_INET6:
            return withUnsafeBytes(of: &storage) { SocketAddress($0.load(as: sockaddr_in6.self)) }
        default:
            return nil
        }
    }
}
