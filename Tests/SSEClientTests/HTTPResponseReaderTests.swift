import SSEClient
import Testing

/// `HTTPResponseReader` on bytes alone: every framing, split anywhere, gives the same head, body and
/// end; malformed framing fails with the offending text named.
@Suite("Client: HTTP response reader")
struct HTTPResponseReaderTests {
    struct Outcome: Equatable {
        var statuses: [Int] = []
        var body: [UInt8] = []
        var ends = 0
        var failure: String?
    }

    static func read(_ pieces: [[UInt8]]) -> Outcome {
        var reader = HTTPResponseReader()
        var outcome = Outcome()
        for piece in pieces {
            do {
                try piece.withUnsafeBytes { bytes in
                    try reader.read(bytes) { event in
                        switch event {
                        case .head(let head): outcome.statuses.append(head.status)
                        case .body(let range): outcome.body += bytes[range]
                        case .end: outcome.ends += 1
                        }
                    }
                }
            } catch {
                outcome.failure = String(describing: error)
                break
            }
        }
        return outcome
    }

    /// `bytes` whole, split in two at every point, and one byte at a time.
    static func splits(_ bytes: [UInt8]) -> [[[UInt8]]] {
        [[bytes], bytes.map { [$0] }] + (0...bytes.count).map { [Array(bytes[..<$0]), Array(bytes[$0...])] }
    }

    static let chunkedHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

    @Test("a chunked body (sizes in both cases, extensions, a space before CR) reads the same however it is split")
    func chunkedBody() {
        let response = Array(
            (Self.chunkedHead
                + "d\r\ndata: hello\n\n\r\n1A;name=value\r\nid: 7\ndata: 0123456789ab\n\n\r\nB \r\ndata: tail\n\r\n0\r\nX-Trailer: t\r\n\r\n").utf8)
        let expected = Outcome(
            statuses: [200], body: Array("data: hello\n\nid: 7\ndata: 0123456789ab\n\ndata: tail\n".utf8), ends: 1, failure: nil)
        for pieces in Self.splits(response) {
            #expect(Self.read(pieces) == expected, "split as \(pieces.map(\.count))")
        }
    }

    @Test("a size line of LF alone, a Content-Length body, then a close-delimited one on the same reader")
    func otherFramings() {
        let response = Array(
            ("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n"
                + "HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nwxyz" + "HTTP/1.1 200 OK\r\n\r\nuntil the end").utf8)
        let expected = Outcome(statuses: [200, 201, 200], body: Array("abcwxyzuntil the end".utf8), ends: 2, failure: nil)
        for pieces in Self.splits(response) {
            #expect(Self.read(pieces) == expected, "split as \(pieces.map(\.count))")
        }
    }

    @Test(
        "a malformed chunk size fails with the size named, however it is split",
        arguments: [
            ("zz", "\"zz\""), ("", "\"\""), ("+a", "\"+a\""), ("-1", "\"-1\""), (";ext", "\"\""), ("1g", "\"1g\""),
            ("8000000000000000", "\"8000000000000000\""), ("10000000000000000", "\"10000000000000000\""),
        ])
    func malformedSize(size: String, shown: String) {
        let response = Array((Self.chunkedHead + "\(size)\r\ndata\r\n").utf8)
        for pieces in Self.splits(response) {
            let outcome = Self.read(pieces)
            #expect(outcome.failure == "malformed chunk size \(shown)", "split as \(pieces.map(\.count))")
            #expect(outcome.body.isEmpty)
        }
    }

    @Test("the largest chunk size is read, not taken for an overflow")
    func largestSize() {
        let outcome = Self.read([Array((Self.chunkedHead + "7fffffffffffffff\r\nabc").utf8)])
        #expect(outcome.failure == nil)
        #expect(outcome.body == Array("abc".utf8))
    }

    @Test("a chunk-size line longer than 1024 bytes fails, in one read or many")
    func longSizeLine() {
        let response = Array((Self.chunkedHead + "1;" + String(repeating: "x", count: 1100) + "\r\nz").utf8)
        for pieces in [[response], response.map { [$0] }] {
            #expect(Self.read(pieces).failure == "chunk-size line longer than 1024 bytes")
        }
    }

    @Test(
        "a Content-Length that is not one run of digits, or two different lengths, is a malformed response (issue 15.1)",
        arguments: ["-5", "+5", "5 5", "0x10", "", "99999999999999999999", "5, 6", "１２"])
    func malformedContentLength(value: String) {
        let response = Array("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: \(value)\r\n\r\ndata: x\n\n".utf8)
        for pieces in Self.splits(response) {
            let outcome = Self.read(pieces)
            #expect(outcome.failure == "malformed Content-Length \(value.debugDescription)", "split as \(pieces.map(\.count))")
            #expect(outcome.statuses.isEmpty && outcome.body.isEmpty)
        }
    }

    @Test("repeated equal Content-Length values are one length; a chunked body ignores Content-Length")
    func repeatedContentLength() {
        let repeated = Self.read([Array("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabcdef".utf8)])
        #expect(repeated == Outcome(statuses: [200], body: Array("abc".utf8), ends: 1, failure: nil))
        let chunked = Self.read([Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: -1\r\n\r\n3\r\nabc\r\n0\r\n\r\n".utf8)])
        #expect(chunked == Outcome(statuses: [200], body: Array("abc".utf8), ends: 1, failure: nil))
    }

    @Test("trailers are bounded: a last chunk followed by endless bytes without a blank line fails (issue 15.10)")
    func endlessTrailers() {
        var reader = HTTPResponseReader(maxHeadSize: 4096)
        let head = Array((Self.chunkedHead + "0\r\n").utf8)
        let junk = [UInt8](repeating: UInt8(ascii: "x"), count: 1024)
        var failure: String?
        do {
            try head.withUnsafeBytes { bytes in try reader.read(bytes) { _ in } }
            for _ in 0..<100 { try junk.withUnsafeBytes { bytes in try reader.read(bytes) { _ in } } }
        } catch {
            failure = String(describing: error)
        }
        #expect(failure == "trailers larger than 4096 bytes")
        // Trailer lines within the bound end the response as before.
        let ended = Self.read([Array((Self.chunkedHead + "0\r\nA: 1\r\nB: 2\r\n\r\n").utf8)])
        #expect(ended.ends == 1 && ended.failure == nil)
    }
}
