import SSEClient
import SSEProxy

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `drip proxy`: a reverse proxy in front of one upstream, printing every exchange as it passes
/// (`ProxyOutput`) until SIGINT or SIGTERM, when it closes every connection and exits 0. A port that
/// cannot be bound, or an upstream that cannot be used, is one line and status 1.
public struct ProxyTool: Sendable {
    public var upstream: HTTPURL
    public var host: String
    public var port: Int
    public var tls: TLSOptions
    public var limits: ProxyServer.Limits
    public var output: ProxyOutput

    public init(upstream: HTTPURL, host: String, port: Int, tls: TLSOptions, limits: ProxyServer.Limits, output: ProxyOutput) {
        self.upstream = upstream
        self.host = host
        self.port = port
        self.tls = tls
        self.limits = limits
        self.output = output
    }

    public func run() async -> Int32 {
        let output = self.output
        let proxy: ProxyServer
        let port: Int
        do {
            proxy = try ProxyServer(upstream: upstream, host: host, port: self.port, tls: tls, limits: limits) { event in
                for line in output.lines(for: event) { Console.standardOutput.line(line) }
            }
            port = try await proxy.start()
        } catch {
            Console.standardError.line("drip proxy: \(error)")
            return 1
        }
        let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        Console.standardError.line(
            "drip proxy: \(url) → \(upstream); point the client at \(url)\(upstream.target == "/" ? "" : " (paths go after \(upstream.target))")")
        let signal = await Signals.next(of: [SIGINT, SIGTERM])
        Console.standardError.line("drip proxy: \(signal == SIGINT ? "interrupted" : "terminated"), closing every connection")
        await proxy.stop()
        return 0
    }
}
