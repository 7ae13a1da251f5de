#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What drip knows about the terminal on a file descriptor.
///
/// A descriptor counts as interactive only when it is a TTY and `TERM` is not `dumb`, the rule
/// swift-format uses: editors' shells and CI logs claim a terminal they cannot drive.
public enum Terminal {
    /// Whether `descriptor` is a terminal that line editing and colour can be used on.
    public static func isInteractive(_ descriptor: Int32, environment: [String: String]) -> Bool {
        guard isatty(descriptor) == 1 else { return false }
        return environment["TERM"] != "dumb"
    }

    /// Whether colour may be written to `descriptor`: interactive, and `NO_COLOR` unset or empty.
    public static func allowsColor(_ descriptor: Int32, environment: [String: String]) -> Bool {
        guard isInteractive(descriptor, environment: environment) else { return false }
        return environment["NO_COLOR"].map(\.isEmpty) ?? true
    }
}
