/// Where the embedded SSE server listens and the limits it enforces.
///
/// Defaults suit a workbench: loopback only, any free port chosen by the system.
public struct ServerConfiguration: Sendable, Hashable {
    /// The address to bind; `127.0.0.1` unless the user asks for another.
    public var host: String
    /// The port to bind; 0 asks the system for any free port.
    public var port: Int

    public init(host: String = "127.0.0.1", port: Int = 0) {
        self.host = host
        self.port = port
    }
}
