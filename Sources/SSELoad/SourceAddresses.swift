/// The local addresses `drip load --source` spreads its connections over: one address has about
/// 28,000 ephemeral ports toward one server, so a load larger than that needs several (127.0.0.1 to
/// 127.0.0.4 all reach a server on 127.0.0.1).
///
/// Invariants: 1 to `maxCount` addresses, each a dotted IPv4 address or an IPv6 literal, in the order given.
public struct SourceAddresses: Sendable, Hashable {
    public let addresses: [String]

    /// The most addresses one `--source` names.
    public static let maxCount = 1024

    /// Parses `A.B.C.D-E.F.G.H` (an inclusive IPv4 range), or addresses separated by commas (each
    /// IPv4 or IPv6), or one address.
    public init(parsing text: String) throws(LoadError) {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { throw LoadError("--source is empty; give an address, a list (a,b) or a range (a-b)") }
        if trimmed.contains("-"), !trimmed.contains(":") {
            let ends = trimmed.split(separator: "-", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
            guard ends.count == 2, let first = Self.ipv4(ends[0]), let last = Self.ipv4(ends[1]) else {
                throw LoadError("--source \(text.debugDescription) is not a range of two IPv4 addresses (e.g. 127.0.0.1-127.0.0.4)")
            }
            guard first <= last else { throw LoadError("--source \(text.debugDescription) runs backwards; give the lower address first") }
            guard last - first < UInt32(Self.maxCount) else {
                throw LoadError("--source \(text.debugDescription) names \(UInt64(last - first) + 1) addresses; at most \(Self.maxCount)")
            }
            addresses = (first...last).map(Self.dotted)
            return
        }
        let listed = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
        guard listed.count <= Self.maxCount else { throw LoadError("--source names \(listed.count) addresses; at most \(Self.maxCount)") }
        for address in listed where Self.ipv4(address) == nil && !Self.isIPv6(address) {
            throw LoadError("--source: \(address.debugDescription) is not an IP address")
        }
        addresses = listed
    }

    /// The address for the `index`th connection (round robin).
    public func address(for index: Int) -> String {
        addresses[Int(index.magnitude % UInt(addresses.count))]
    }

    static func ipv4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCII), let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
        }
        return value
    }

    static func dotted(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    static func isIPv6(_ text: String) -> Bool {
        text.contains(":") && text.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } && text.count <= 45
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
