// Measures EventStreamParser alone: each file is read into memory once, then parsed in 64 KiB
// chunks (as a socket delivers it) with every event materialised — or, with --json-lines, written
// as JSON lines (`parse(_:appendingJSONLinesTo:)`, what `drip decode` and `drip connect --json` do):
// one warm-up pass, then the best of 3 passes (the same statistic scripts/bench/decode uses for the
// Python peers). Prints one line per file: path, MB/s, events (or output bytes) per pass, a checksum
// that keeps the work from being optimised away.
import EventStream

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes.append(contentsOf: buffer[..<count])
    }
    return bytes
}

/// Feeds `bytes` to a fresh parser in chunks of `chunkSize`, as a socket would deliver them.
func parseInChunks(
    _ bytes: [UInt8], chunkSize: Int, form: EventStreamParser.Form,
    _ parse: (inout EventStreamParser, UnsafeRawBufferPointer) throws(EventStreamError) -> Void
) {
    var parser = EventStreamParser(form: form, limits: .init(maxLineLength: 1 << 24, maxEventSize: 1 << 26))
    bytes.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let end = min(offset + chunkSize, all.count)
            do {
                try parse(&parser, UnsafeRawBufferPointer(rebasing: all[offset..<end]))
            } catch {
                fatalError("bench input rejected: \(error)")
            }
            offset = end
        }
    }
    parser.endOfStream()
}

func parseOnce(_ bytes: [UInt8], chunkSize: Int) -> (events: Int, dataBytes: Int) {
    var events = 0
    var dataBytes = 0
    parseInChunks(bytes, chunkSize: chunkSize, form: .events) { (parser, chunk) throws(EventStreamError) in
        try parser.parse(chunk) { output in
            if case .event(let event) = output {
                events += 1
                dataBytes &+= event.data.utf8.count &+ event.type.utf8.count
            }
        }
    }
    return (events, dataBytes)
}

func transcodeOnce(_ bytes: [UInt8], chunkSize: Int) -> (events: Int, dataBytes: Int) {
    var written = 0
    var checksum = 0
    parseInChunks(bytes, chunkSize: chunkSize, form: .bytes) { (parser, chunk) throws(EventStreamError) in
        var lines: [UInt8] = []
        try parser.parse(chunk, appendingJSONLinesTo: &lines)
        written += lines.count
        checksum &+= Int(lines.last ?? 0)
    }
    return (written, checksum)
}

var arguments = Array(CommandLine.arguments.dropFirst())
let jsonLines = arguments.first == "--json-lines"
if jsonLines { arguments.removeFirst() }
guard !arguments.isEmpty else {
    print("usage: drip-bench [--json-lines] FILE...")
    exit(2)
}
let pass = jsonLines ? transcodeOnce : parseOnce
let clock = ContinuousClock()
for path in arguments {
    guard let bytes = readFile(path) else {
        print("drip-bench: cannot read \(path)")
        exit(1)
    }
    _ = pass(bytes, 64 << 10)  // warm-up
    var passes = 0
    var checksum = 0
    var events = 0
    var best = Duration.seconds(1_000_000)
    while passes < 3 {
        let passStart = clock.now
        let result = pass(bytes, 64 << 10)
        best = min(best, clock.now - passStart)
        events = result.events
        checksum &+= result.dataBytes
        passes += 1
    }
    let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) * 1e-18
    let megabytesPerSecond = Double(bytes.count) / seconds / 1e6
    print("\(path)\t\(String(format: megabytesPerSecond))\t\(events)\t\(checksum)")
}

func String(format value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return "\(rounded)"
}
