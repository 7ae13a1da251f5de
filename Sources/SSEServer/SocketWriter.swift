import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a subscriber's bytes reach its connection: the one seam for the server's direct socket write.
///
/// `.direct` writes with one `send(2)` on the connection's descriptor while nothing of the
/// subscriber's waits in NIO (see `Subscriber.transmit`); everything else goes through the channel's
/// pipeline. A direct write skips every outbound handler, so it is only correct on a connection whose
/// pipeline has none between the subscriber and the socket: a plain HTTP/1.1 connection the server
/// accepted itself. `forAcceptedConnection` is the one place that makes a `.direct` writer, and it
/// is given the descriptor only by the plain HTTP/1.1 adoption in `SSEServer`; a TLS or HTTP/2
/// connection (an outbound handler that encrypts or frames) must use `.pipeline`.
enum SocketWriter: Sendable, Hashable {
    /// Only NIO writes.
    case pipeline
    /// `send(2)` on this descriptor, on the channel's loop, while the channel is active. NIO closes
    /// the descriptor on that loop and marks the channel inactive before any other code runs there,
    /// so the number cannot by then belong to another connection.
    case direct(CInt)

    /// The writer for a connection the server accepted as plain HTTP/1.1: direct unless the
    /// configuration turned direct writes off (`ServerLimits.writesDirectly`).
    static func forAcceptedConnection(_ descriptor: CInt, writesDirectly: Bool) -> SocketWriter {
        writesDirectly ? .direct(descriptor) : .pipeline
    }

    /// Writes as much of `bytes` as the socket takes without waiting and returns the count: 0 on any
    /// error (NIO then meets the error and reports it) and always 0 for `.pipeline`.
    func sendDirectly(_ bytes: ByteBuffer) -> Int {
        guard case .direct(let descriptor) = self else { return 0 }
        return bytes.withUnsafeReadableBytes { raw in
            while true {
                #if canImport(Glibc)
                    let written = Glibc.send(descriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                #else
                    let written = Darwin.send(descriptor, raw.baseAddress, raw.count, MSG_DONTWAIT)
                #endif
                if written >= 0 { return written }
                if errno != EINTR { return 0 }
            }
        }
    }

    var isDirect: Bool { if case .direct = self { true } else { false } }
}
