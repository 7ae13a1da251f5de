import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Keeps the listener calm when the process runs out of file descriptors.
///
/// Without it, `accept` failing with EMFILE leaves the connection pending, the listener stays
/// readable, and the event loop spins. Here the first failure logs one line; every pending
/// connection is then accepted on a reserve descriptor (kept open for this) and answered 503 at
/// once, and accepting pauses briefly before the next try. Existing connections are untouched; when
/// descriptors free up, the next connection is served and the recovery is logged.
///
/// Invariants: runs on the listener's event loop only; `reserve` is open except while refusing.
final class DescriptorExhaustionHandler: ChannelDuplexHandler {
    typealias InboundIn = Channel
    typealias OutboundIn = Channel

    static let pause = TimeAmount.milliseconds(100)
    private static let refusal: [UInt8] = {
        let body = "503 Service Unavailable: the server is out of file descriptors\n"
        let head =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        return Array((head + body).utf8)
    }()

    private let listeningDescriptor: CInt
    private let log: (ServerLogEntry) -> Void
    private var reserve: CInt
    private var refused = 0
    private var isExhausted = false
    private var resumeAt: NIODeadline?
    private var scheduledRead: Scheduled<Void>?

    init(listeningDescriptor: CInt, log: @escaping (ServerLogEntry) -> Void) {
        self.listeningDescriptor = listeningDescriptor
        self.log = log
        self.reserve = Self.openReserve()
    }

    deinit {
        if reserve >= 0 { closeDescriptor(reserve) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if isExhausted {
            isExhausted = false
            log(.descriptorsRecovered(refused: refused))
            refused = 0
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let ioError = error as? IOError else { return context.fireErrorCaught(error) }
        switch ioError.errnoCode {
        case EMFILE, ENFILE:
            if !isExhausted {
                isExhausted = true
                log(.descriptorsExhausted(limit: Self.descriptorLimit()))
            }
            refusePending()
            resumeAt = .now() + Self.pause
        case ENOBUFS, ENOMEM:
            resumeAt = .now() + Self.pause
        default:
            context.fireErrorCaught(error)
        }
    }

    func read(context: ChannelHandlerContext) {
        guard scheduledRead == nil else { return }
        guard let resumeAt, resumeAt > .now() else {
            self.resumeAt = nil
            return context.read()
        }
        scheduledRead = context.eventLoop.assumeIsolated().scheduleTask(deadline: resumeAt) { [self] in
            scheduledRead = nil
            self.resumeAt = nil
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        scheduledRead?.cancel()
        scheduledRead = nil
        context.fireChannelInactive()
    }

    /// Frees the reserve, answers every pending connection 503 and closes it, then takes the reserve back.
    private func refusePending() {
        if reserve >= 0 {
            closeDescriptor(reserve)
            reserve = -1
        }
        while true {
            let descriptor = accept(listeningDescriptor, nil, nil)
            guard descriptor >= 0 else { break }
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            var request = [UInt8](repeating: 0, count: 4096)
            _ = recv(descriptor, &request, request.count, Int32(MSG_DONTWAIT))
            _ = Self.refusal.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            shutdown(descriptor, Int32(SHUT_WR))
            closeDescriptor(descriptor)
            refused += 1
        }
        reserve = Self.openReserve()
    }

    private static func openReserve() -> CInt {
        open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    private static func descriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return -1 }
        return Int(clamping: limit.rlim_cur)
    }
}

// The system calls under names of their own: inside the types above, `close`, `bind` and `listen`
// would mean NIO's methods.
private func closeDescriptor(_ descriptor: CInt) {
    _ = close(descriptor)
}

private func bindDescriptor(_ descriptor: CInt, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> CInt {
    bind(descriptor, address, length)
}

private func listenOn(_ descriptor: CInt, _ backlog: CInt) -> CInt {
    listen(descriptor, backlog)
}

#if canImport(Glibc)
    private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
    private let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
#endif

/// The listening socket, made here rather than by NIO so the descriptor is known to
/// `DescriptorExhaustionHandler`.
enum ListeningSocket {
    static func bind(host: String, port: Int, backlog: CInt) throws -> (descriptor: CInt, address: SocketAddress) {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        #if canImport(Glibc)
            let descriptor = socket(CInt(address.protocol.rawValue), CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        #else
            let descriptor = socket(CInt(address.protocol.rawValue), SOCK_STREAM, 0)
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
        return (descriptor, address)
    }

    static func listen(_ descriptor: CInt, backlog: CInt) throws {
        guard listenOn(descriptor, backlog) == 0 else { throw IOError(errnoCode: errno, reason: "listen") }
    }
}
