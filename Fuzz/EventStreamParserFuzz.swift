// libFuzzer target for EventStreamParser, built by scripts/fuzz together with the EventStream sources
// as one module (swiftc -sanitize=fuzzer). Each input is checked for:
// - no crash and bounded memory under small limits (libFuzzer's -rss_limit_mb and -malloc_limit_mb);
// - the same outputs whole, in 1-byte chunks, and in chunks of a size the input picks;
// - parse → encode → parse giving back the same events, retries and last event id;
// - the JSON and text line forms (`parse(_:appending:to:)`) writing exactly the lines of the outputs,
//   with the same last event id and error;
// - the borrowed form (`parse(_:borrowingEvents:)`) handing over exactly the events of the outputs,
//   with the same last event id and error;
// - the JSON reader never crashing on the same bytes.

/// Feeds `bytes` in chunks of `chunkSize` to `parseChunk` (chunk index, chunk, parser, output so far)
/// until the first error, then ends the stream: the output, the last event id, the error.
private func feed<Output: RangeReplaceableCollection>(
    _ bytes: [UInt8], chunkSize: Int, limits: EventStreamParser.Limits, form: EventStreamParser.Form,
    _ parseChunk: (Int, UnsafeRawBufferPointer, inout EventStreamParser, inout Output) throws(EventStreamError) -> Void
) -> (Output, String, EventStreamError?) {
    var parser = EventStreamParser(form: form, limits: limits, reportsComments: true)
    var output = Output()
    var failure: EventStreamError?
    var offset = 0
    var index = 0
    while offset < bytes.count {
        let end = min(offset + chunkSize, bytes.count)
        let result = bytes[offset..<end].withUnsafeBytes { chunk in
            Result { () throws(EventStreamError) in try parseChunk(index, chunk, &parser, &output) }
        }
        if case .failure(let error) = result {
            failure = error
            break
        }
        offset = end
        index += 1
    }
    parser.endOfStream()
    return (output, parser.lastEventId, failure)
}

private func parse(_ bytes: [UInt8], chunkSize: Int, limits: EventStreamParser.Limits) -> ([EventStreamParser.Output], String, EventStreamError?) {
    feed(bytes, chunkSize: chunkSize, limits: limits, form: .events) { (_, chunk, parser, outputs) throws(EventStreamError) in
        try parser.parse(chunk) { outputs.append($0) }
    }
}

private func transcode(
    _ bytes: [UInt8], to form: EventStreamParser.LineForm, chunkSize: Int, limits: EventStreamParser.Limits
) -> ([UInt8], String, EventStreamError?) {
    feed(bytes, chunkSize: chunkSize, limits: limits, form: .bytes) { (index, chunk, parser, lines) throws(EventStreamError) in
        // Into an empty array (written in place) and onto what is there (appended), in turns.
        if index % 2 == 0 {
            var chunkLines: [UInt8] = []
            defer { lines += chunkLines }
            try parser.parse(chunk, appending: form, to: &chunkLines)
        } else {
            try parser.parse(chunk, appending: form, to: &lines)
        }
    }
}

/// The events of the borrowed form, as (type, data, last event id).
private func borrow(_ bytes: [UInt8], chunkSize: Int, limits: EventStreamParser.Limits) -> ([[String]], String, EventStreamError?) {
    feed(bytes, chunkSize: chunkSize, limits: limits, form: .bytes) { (_, chunk, parser, events) throws(EventStreamError) in
        try parser.parse(chunk) { (event: EventStreamParser.BorrowedEvent) in
            events.append([event.type, event.data, event.lastEventId].map { String(decoding: $0, as: UTF8.self) })
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventStreamParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = EventStreamParser.Limits(maxLineLength: 256, maxEventSize: 1024)
    let chunkSize = 1 + Int(bytes.first ?? 0) % 17

    let whole = parse(bytes, chunkSize: max(1, bytes.count), limits: limits)
    let single = parse(bytes, chunkSize: 1, limits: limits)
    let picked = parse(bytes, chunkSize: chunkSize, limits: limits)
    guard whole == single, whole == picked else {
        fatalError("chunking changed the outputs: whole \(whole) vs 1-byte \(single) vs \(chunkSize)-byte \(picked)")
    }

    for form in [EventStreamParser.LineForm.json, .text] {
        var expectedLines: [UInt8] = []
        for output in whole.0 {
            if form == .json { output.appendJSONLine(to: &expectedLines) } else { output.appendTextLines(to: &expectedLines) }
        }
        // In small chunks, and whole: the line forms' fast path (SimpleBlocks) only takes
        // blocks that lie 64 bytes or more before the end of a chunk.
        for size in [chunkSize, max(1, bytes.count)] {
            let lines = transcode(bytes, to: form, chunkSize: size, limits: limits)
            guard lines.0 == expectedLines, lines.1 == whole.1, lines.2 == whole.2 else {
                fatalError(
                    "the \(form) lines form (\(size)-byte chunks) differs: \(String(decoding: lines.0, as: UTF8.self).debugDescription) vs \(String(decoding: expectedLines, as: UTF8.self).debugDescription), \(lines.1) vs \(whole.1), \(String(describing: lines.2)) vs \(String(describing: whole.2))"
                )
            }
        }
    }

    let expectedEvents = whole.0.compactMap { output -> [String]? in
        guard case .event(let event) = output else { return nil }
        return [event.type, event.data, event.id ?? ""]
    }
    let borrowed = borrow(bytes, chunkSize: chunkSize, limits: limits)
    guard borrowed.0 == expectedEvents, borrowed.1 == whole.1, borrowed.2 == whole.2 else {
        fatalError("the borrowed form differs: \(borrowed) vs \(expectedEvents), \(whole.1), \(String(describing: whole.2))")
    }

    if whole.2 == nil {
        let encoder = EventStreamEncoder()
        var wire: [UInt8] = []
        var lastEventId = ""
        for output in whole.0 {
            switch output {
            case .event(var event):
                if event.id == lastEventId { event.id = nil } else { lastEventId = event.id ?? "" }
                event.retry = nil
                do { try encoder.append(event, to: &wire) } catch { fatalError("a parsed event failed to encode: \(error)") }
            case .retry(let milliseconds):
                do { try encoder.appendRetry(milliseconds, to: &wire) } catch { fatalError("a parsed retry failed to encode: \(error)") }
            case .comment(let text):
                encoder.appendComment(text, to: &wire)
            }
        }
        if whole.1 != lastEventId {
            // The id was last set by a block without data: write one the same way.
            wire += Array("id: \(whole.1)\n\n".utf8)
        }
        var parser = EventStreamParser(limits: .init(), reportsComments: true)
        var again: [EventStreamParser.Output] = []
        do { try parser.parse(wire) { again.append($0) } } catch { fatalError("re-encoded stream rejected: \(error)") }
        // Which block a retry field sits in may change on re-encoding; compare events without it.
        func withoutEventRetry(_ outputs: [EventStreamParser.Output]) -> [EventStreamParser.Output] {
            outputs.map { output in
                guard case .event(var event) = output else { return output }
                event.retry = nil
                return .event(event)
            }
        }
        let stripped = withoutEventRetry(whole.0)
        again = withoutEventRetry(again)
        guard again == stripped, parser.lastEventId == whole.1 else {
            fatalError("parse → encode → parse changed the stream: \(stripped) vs \(again)")
        }
    }

    _ = try? JSONValue(parsing: String(decoding: bytes, as: UTF8.self))
    return 0
}
