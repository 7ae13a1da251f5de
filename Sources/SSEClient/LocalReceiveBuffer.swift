#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The receive buffer a client with `ClientOptions.fixesLocalReceiveBuffer` asks for when its server
/// is on this machine, and whether the system grants it. Linux grants what a socket asks for up to
/// `net.core.rmem_max` (208 KiB by default, less than autotuning would reach; often raised on machines
/// tuned for throughput) and reports twice what it granted (half is bookkeeping).
enum LocalReceiveBuffer {
    /// What is asked for: 4 MiB, so 8 MiB of buffer, above the 4 MiB send buffer Linux gives a sender
    /// at most by default (`net.ipv4.tcp_wmem`), so that a local sender is held by its own buffer,
    /// not by the window.
    static let size: Int32 = 4 << 20

    /// Whether a socket that asks for `size` gets all of it, found once per process on a socket made
    /// for the question (the answer depends on the system, not the connection). A smaller buffer
    /// than asked would be worse than autotuning, so then none is asked for.
    static let isGranted: Bool = {
        #if os(Linux)
            let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let probe = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard probe >= 0 else { return false }
        defer { close(probe) }
        var asked = size
        guard setsockopt(probe, SOL_SOCKET, SO_RCVBUF, &asked, socklen_t(MemoryLayout<Int32>.size)) == 0 else { return false }
        var granted: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(probe, SOL_SOCKET, SO_RCVBUF, &granted, &length) == 0 else { return false }
        #if os(Linux)
            return granted >= 2 * size
        #else
            return granted >= size
        #endif
    }()

    /// Whether `host` (a URL's host, IPv6 literals without brackets) names this machine: an IPv4
    /// loopback literal (127.0.0.0/8), `::1`, or `localhost` in any ASCII case. (Compared as bytes: a
    /// first `lowercased()` costs a start-up ~0.3 ms in Unicode tables, as `Secrets` found.)
    static func isLocal(host: String) -> Bool {
        let localhost = "localhost".utf8
        if host == "::1" || (host.utf8.count == localhost.count && zip(host.utf8, localhost).allSatisfy { $0 | 0x20 == $1 }) {
            return true
        }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { part in UInt8(part) != nil }
    }
}
