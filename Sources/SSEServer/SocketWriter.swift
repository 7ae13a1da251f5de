import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a subscriber's bytes reach its connection: the one seam for the server's direct socket write.
///
/// A direct writer writes with one `send(2)` on the connection's descriptor while nothing of the
/// subscriber's waits in NIO (see `Subscriber.transmit`); everything else goes through the channel's
/// pipeline. A direct write skips every outbound handler, so it is only correct on a connection whose
/// pipeline has none between the subscriber and the socket: a plain HTTP/1.1 connection the server
/// accepted itself. `forAcceptedConnection` is the only way to make one (the descriptor is private),
/// called only by the plain HTTP/1.1 adoptions in `SSEServer` and `ProxyServer` (for the proxy's
/// clients); a TLS or HTTP/2 connection (an outbound handler that encrypts or frames) gets `.pipeline`.
package struct SocketWriter: Sendable, Hashable {
    /// The descriptor to `send(2)` on, on the channel's loop, while the channel is active; nil: only
    /// NIO writes. NIO closes the descriptor on that loop and marks the channel inactive before any
    /// other code runs there, so the number cannot by then belong to another connection. Private:
    /// `forAcceptedConnection` is the only way to a direct writer.
    private let descriptor: CInt?

    private init(descriptor: CInt?) { self.descriptor = descriptor }

    /// Only NIO writes: for any connection with an outbound handler between the subscriber and the
    /// socket (TLS, HTTP/2), or one the server did not accept itself.
    package static let pipeline = SocketWriter(descriptor: nil)

    /// The writer for a connection the server accepted as plain HTTP/1.1, whose pipeline has no
    /// outbound handler: direct unless the configuration turned direct writes off
    /// (`ServerLimits.writesDirectly`).
    package static func forAcceptedConnection(_ descriptor: CInt, writesDirectly: Bool) -> SocketWriter {
        SocketWriter(descriptor: writesDirectly ? descriptor : nil)
    }

    package var isDirect: Bool { descriptor != nil }

    /// Writes as much of `bytes` as the socket takes without waiting and returns the count: 0 on any
    /// error (NIO then meets the error and reports it) and always 0 for a pipeline writer.
    package func sendDirectly(_ bytes: ByteBuffer) -> Int {
        guard let descriptor else { return 0 }
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
}
