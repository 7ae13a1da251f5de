import EventStream
import NIOCore
import SSEServer

/// The events of one proxied event stream on their way from the upstream to the client: bytes in,
/// bytes out, and what passed. A pure state machine: no I/O, no clock; the connection around it
/// writes what it returns and ends the connection when told.
///
/// Without an event-level fault, each read passes on whole and at once, byte for byte, while a
/// parser watches it; with one waiting (`RelayFaults.holdsBlocks`), each block is held until its
/// blank line, then written, left out, repeated or rewritten. Invariant: a block that has begun to
/// pass is never held or changed; a held block is at most `maxHeldBlock` bytes (a longer one is
/// passed on unchanged and the fault waits for the next).
public struct EventRelay: Sendable {
    /// What happened to an event on its way through.
    public enum Fate: String, Sendable, Hashable {
        case passed, skipped, duplicated
    }

    /// What the proxy's user sees of the stream, in order.
    public enum Observation: Sendable, Hashable {
        case event(ServerSentEvent, Fate)
        case comment(String)
        case retry(Int)
        /// The stream broke the parser's limits: bytes still pass, but are no longer read as events.
        case unreadable(String)
        /// A fault finished: `drop after=`'s count reached, the last skip or duplicate spent.
        case faultDone(String)
    }

    /// What the connection does after writing the output of a read.
    public enum Verdict: Sendable, Hashable {
        case carryOn
        /// End the downstream connection this way; the rest of the read is not written.
        case drop(DropMode)
    }

    /// The largest block held whole for a fault.
    public static let maxHeldBlock = 8 << 20

    public var faults: RelayFaults
    /// Whether events, comments and retries are reported; when not, events are only counted (the
    /// parser hands them over as borrowed bytes, no string made), for the faults.
    public let reportsEvents: Bool
    private var splitter = EventBlockSplitter()
    private var parser: EventStreamParser
    private var observing = true
    /// Nil at a block's start; then whether the block is being held whole.
    private var holding: Bool?
    private var held: [UInt8] = []
    private var heldStartsWithLineFeed = false
    private var retryAnnounced = false

    public init(faults: RelayFaults = RelayFaults(), reportsEvents: Bool = true) {
        self.faults = faults
        self.reportsEvents = reportsEvents
        parser = EventStreamParser(form: reportsEvents ? .events : .bytes, reportsComments: reportsEvents)
    }

    /// Relays one read of the upstream's body into `output` and reports what passed.
    public mutating func relay(_ bytes: UnsafeRawBufferPointer, into output: inout ByteBuffer, observe: (Observation) -> Void) -> Verdict {
        if faults == RelayFaults(), holding != true {
            passWhole(bytes, into: &output, observe: observe)
            return .carryOn
        }
        var verdict = Verdict.carryOn
        var splitter = self.splitter
        defer { self.splitter = splitter }
        splitter.split(bytes) { piece in
            guard verdict == .carryOn else { return }
            if holding == nil {
                holding = faults.holdsBlocks
                if let retry = faults.rewriteRetry, !retryAnnounced {
                    output.writeString("retry: \(retry)\n\n")
                    retryAnnounced = true
                }
            }
            var outputs: [EventStreamParser.Output] = []
            var dispatched = false
            if observing {
                do throws(EventStreamError) {
                    if reportsEvents {
                        try parser.parse(piece.bytes) { outputs.append($0) }
                        dispatched = outputs.contains { if case .event = $0 { true } else { false } }
                    } else {
                        try parser.parse(piece.bytes) { (_: EventStreamParser.BorrowedEvent) in dispatched = true }
                    }
                } catch {
                    observing = false
                    observe(.unreadable("\(error)"))
                }
            }
            if holding == true {
                if held.isEmpty { heldStartsWithLineFeed = piece.startsWithLineFeed }
                if held.count + piece.bytes.count > Self.maxHeldBlock {
                    output.writeBytes(held)
                    output.writeBytes(piece.bytes)
                    held.removeAll()
                    holding = false
                } else {
                    held.append(contentsOf: piece.bytes)
                }
            } else {
                output.writeBytes(piece.bytes)
            }
            guard piece.endsBlock || !outputs.isEmpty || dispatched else { return }
            verdict = finishBlock(outputs, dispatched: dispatched, ended: piece.endsBlock, into: &output, observe: observe)
        }
        return verdict
    }

    /// The common case, no fault waiting: the read passes whole and is parsed in one call; the
    /// splitter still follows it, so that a fault given later starts at the next block's start.
    private mutating func passWhole(_ bytes: UnsafeRawBufferPointer, into output: inout ByteBuffer, observe: (Observation) -> Void) {
        var splitter = self.splitter
        splitter.split(bytes) { piece in holding = piece.endsBlock ? nil : false }
        self.splitter = splitter
        output.writeBytes(bytes)
        guard observing else { return }
        do throws(EventStreamError) {
            if reportsEvents {
                try parser.parse(bytes) { item in
                    switch item {
                    case .event(let event): observe(.event(event, .passed))
                    case .comment(let text): observe(.comment(text))
                    case .retry(let milliseconds): observe(.retry(milliseconds))
                    }
                }
            } else {
                try parser.parse(bytes) { (_: EventStreamParser.BorrowedEvent) in }
            }
        } catch {
            observing = false
            observe(.unreadable("\(error)"))
        }
    }

    /// Writes a held block as its fault says, reports the block's outputs, and counts its event
    /// towards `drop after=`.
    private mutating func finishBlock(
        _ outputs: [EventStreamParser.Output], dispatched: Bool, ended: Bool, into output: inout ByteBuffer, observe: (Observation) -> Void
    ) -> Verdict {
        var fate = Fate.passed
        if ended, holding == true {
            if dispatched, faults.skip > 0 {
                fate = .skipped
                faults.skip -= 1
                if faults.skip == 0 { observe(.faultDone("skip")) }
            } else {
                var block = rewritten(held)
                if dispatched, !faults.corruptions.isEmpty {
                    block = faults.corruptions.removeFirst().apply(to: block)
                    if faults.corruptions.isEmpty { observe(.faultDone("corrupt")) }
                }
                output.writeBytes(block)
                if dispatched, faults.duplicate > 0 {
                    fate = .duplicated
                    output.writeBytes(heldStartsWithLineFeed ? block.dropFirst() : block[...])
                    faults.duplicate -= 1
                    if faults.duplicate == 0 { observe(.faultDone("duplicate")) }
                }
            }
            held.removeAll(keepingCapacity: held.capacity <= 64 << 10)
        }
        for item in outputs {
            switch item {
            case .event(let event): observe(.event(event, fate))
            case .comment(let text): observe(.comment(text))
            case .retry(let milliseconds): observe(.retry(milliseconds))
            }
        }
        if ended { holding = nil }
        guard dispatched, fate != .skipped, var drop = faults.dropAfter else { return .carryOn }
        drop.events -= 1
        guard drop.events <= 0 else {
            faults.dropAfter = drop
            return .carryOn
        }
        faults.dropAfter = nil
        observe(.faultDone("drop after"))
        return .drop(drop.mode)
    }

    /// `block` with its `id` lines left out and its `retry` lines replaced, as the faults say.
    private func rewritten(_ block: [UInt8]) -> [UInt8] {
        guard faults.stripsIds || faults.rewriteRetry != nil else { return block }
        var result: [UInt8] = []
        result.reserveCapacity(block.count)
        var lineStart = 0
        var index = 0
        while index < block.count {
            guard block[index] == 0x0A || block[index] == 0x0D else {
                index += 1
                continue
            }
            var end = index + 1
            if block[index] == 0x0D, end < block.count, block[end] == 0x0A { end += 1 }
            let line = block[lineStart..<index]
            let name = line.prefix { $0 != UInt8(ascii: ":") }
            if let retry = faults.rewriteRetry, name.elementsEqual("retry".utf8) {
                result += Array("retry: \(retry)".utf8) + block[index..<end]
            } else if !(faults.stripsIds && name.elementsEqual("id".utf8)) {
                result += block[lineStart..<end]
            }
            lineStart = end
            index = end
        }
        result += block[lineStart...]
        return result
    }
}
