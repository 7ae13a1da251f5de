#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes `{"type":…,"data":…,"lastEventId":…}`, `{"retry":N}` and `{"comment":…}` lines into a
/// buffer of its own, grown as needed and handed over with one copy (`appendLines(to:)`).
struct JSONLineSink: ParserSink, ~Copyable {
    private var start: UnsafeMutablePointer<UInt8>
    private var end: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// False while writing into storage the caller owns (and frees).
    private var ownsStorage: Bool

    init(capacity: Int) {
        self.capacity = capacity
        start = .allocate(capacity: capacity)
        end = start
        ownsStorage = true
    }

    /// Writes into `storage` until it is full, then moves what it wrote to storage of its own.
    init(writingInto storage: UnsafeMutableBufferPointer<UInt8>) {
        if let base = storage.baseAddress {
            start = base
            capacity = storage.count
            ownsStorage = false
        } else {
            capacity = 256
            start = .allocate(capacity: capacity)
            ownsStorage = true
        }
        end = start
    }

    deinit { if ownsStorage { start.deallocate() } }

    /// Whether everything written is still in the storage given to `init(writingInto:)`.
    var isInGivenStorage: Bool { !ownsStorage }
    var count: Int { start.distance(to: end) }

    func appendLines(to lines: inout [UInt8]) {
        lines.append(contentsOf: UnsafeBufferPointer(start: start, count: start.distance(to: end)))
    }

    static var materialisesEvents: Bool { false }

    /// Not called: this sink takes events as bytes.
    func event(_ event: consuming ServerSentEvent) {}

    mutating func event(type: UnsafeBufferPointer<UInt8>, data: UnsafeBufferPointer<UInt8>, id: UnsafeBufferPointer<UInt8>) {
        reserve(Self.eventFramingLength + JSONStringEscaper.maximumLength(of: type.count + data.count + id.count))
        var output = Self.copy(#"{"type":""#, to: end)
        output = JSONStringEscaper.write(type, to: output)
        output = Self.copy(#"","data":""#, to: output)
        output = JSONStringEscaper.write(data, to: output)
        output = Self.copy(#"","lastEventId":""#, to: output)
        output = JSONStringEscaper.write(id, to: output)
        end = Self.copy("\"}\n", to: output)
    }

    mutating func retry(_ milliseconds: Int) {
        let digits = String(milliseconds)
        reserve(16 + digits.utf8.count)
        var output = Self.copy(#"{"retry":"#, to: end)
        for digit in digits.utf8 {
            output.pointee = digit
            output += 1
        }
        end = Self.copy("}\n", to: output)
    }

    mutating func comment(_ text: UnsafeBufferPointer<UInt8>) {
        reserve(16 + JSONStringEscaper.maximumLength(of: text.count))
        var output = Self.copy(#"{"comment":""#, to: end)
        output = JSONStringEscaper.write(text, to: output)
        end = Self.copy("\"}\n", to: output)
    }

    /// Computed rather than stored, so that no lazy initialisation is checked per event.
    private static var eventFramingLength: Int {
        let framing: StaticString = #"{"type":"","data":"","lastEventId":""}"#
        return framing.utf8CodeUnitCount + 1
    }

    /// Makes room for `count` more bytes after `end`.
    @inline(__always)
    private mutating func reserve(_ count: Int) {
        let used = start.distance(to: end)
        guard capacity - used < count else { return }
        capacity = max(2 * capacity, used + count)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        grown.update(from: start, count: used)
        if ownsStorage { start.deallocate() }
        ownsStorage = true
        start = grown
        end = grown + used
    }

    @inline(__always)
    private static func copy(_ text: StaticString, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        memcpy(output, text.utf8Start, text.utf8CodeUnitCount)
        return output + text.utf8CodeUnitCount
    }
}
