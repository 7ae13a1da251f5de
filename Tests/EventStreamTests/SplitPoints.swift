import EventStream
import Testing

/// What a parser made of one or more streams: its outputs and the state a reconnect would use.
struct ParseRun: Equatable, CustomStringConvertible {
    var outputs: [EventStreamParser.Output] = []
    var lastEventId = ""
    var reconnectionTime: Int?
    var error: EventStreamError?

    var description: String {
        "\(outputs.map(\.jsonLine)) lastEventId=\(lastEventId.debugDescription) retry=\(String(describing: reconnectionTime)) error=\(String(describing: error))"
    }

    var events: [ServerSentEvent] {
        outputs.compactMap { if case .event(let event) = $0 { event } else { nil } }
    }
}

/// Parses `streams` (each a separate connection, ended with `endOfStream()`), each cut into `chunks`.
func run(
    _ streams: [[[UInt8]]],
    limits: EventStreamParser.Limits = .init(),
    comments: Bool = true,
    lastEventId: String = ""
) -> ParseRun {
    var parser = EventStreamParser(limits: limits, reportsComments: comments, lastEventId: lastEventId)
    var result = ParseRun()
    for chunks in streams {
        do {
            for chunk in chunks {
                try parser.parse(chunk) { result.outputs.append($0) }
            }
        } catch {
            result.error = error
        }
        parser.endOfStream()
    }
    result.lastEventId = parser.lastEventId
    result.reconnectionTime = parser.reconnectionTime
    return result
}

/// Parses each stream whole, in 1-byte chunks, and cut at every split point (every split of each
/// stream in turn, the others whole); records an issue when any cutting disagrees with the whole.
@discardableResult
func parseAtEverySplit(
    _ streams: [String],
    limits: EventStreamParser.Limits = .init(),
    comments: Bool = true,
    lastEventId: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) -> ParseRun {
    parseAtEverySplit(streams.map { Array($0.utf8) }, limits: limits, comments: comments, lastEventId: lastEventId, sourceLocation: sourceLocation)
}

@discardableResult
func parseAtEverySplit(
    _ streams: [[UInt8]],
    limits: EventStreamParser.Limits = .init(),
    comments: Bool = true,
    lastEventId: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) -> ParseRun {
    let whole = run(streams.map { [$0] }, limits: limits, comments: comments, lastEventId: lastEventId)
    let bytewise = run(streams.map { $0.map { [$0] } }, limits: limits, comments: comments, lastEventId: lastEventId)
    #expect(bytewise == whole, "1-byte chunks differ from the whole input", sourceLocation: sourceLocation)
    for (streamIndex, stream) in streams.enumerated() {
        for split in 0...stream.count {
            var cut = streams.map { [$0] }
            cut[streamIndex] = [Array(stream[..<split]), Array(stream[split...])]
            let result = run(cut, limits: limits, comments: comments, lastEventId: lastEventId)
            if result != whole {
                Issue.record("split of stream \(streamIndex) at byte \(split) differs: \(result) vs \(whole)", sourceLocation: sourceLocation)
                break
            }
        }
    }
    return whole
}

/// An event as the parser dispatches it.
func event(_ data: String, type: String = "message", id: String = "", retry: Int? = nil) -> EventStreamParser.Output {
    .event(ServerSentEvent(type: type, data: data, id: id, retry: retry))
}
