import NIOCore
import NIOHTTP1
import Testing

@testable import SSEServer

/// The HTTP/1.1 bytes the server writes, read back as the parts an HTTP/2 stream carries.
@Suite("ResponseUnframer: HTTP/1.1 response bytes to HTTP/2 parts")
struct ResponseUnframerTests {
    static let chunked =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
        + "d\r\ndata: hello\n\n\r\n5\r\n: hi\n\r\n0\r\n\r\n"

    /// Every part `text` gives, fed in pieces of `size` bytes, with the body pieces joined.
    func unframe(_ text: String, pieces size: Int, answersHEAD: Bool = false) -> (head: HTTPResponseHead?, body: String, ended: Bool) {
        var unframer = ResponseUnframer(answersHEAD: answersHEAD)
        let bytes = Array(text.utf8)
        var head: HTTPResponseHead?
        var body = ""
        var ended = false
        for start in stride(from: 0, to: bytes.count, by: size) {
            for part in unframer.feed(ByteBuffer(bytes: bytes[start..<min(start + size, bytes.count)])) {
                switch part {
                case .head(let value): head = value
                case .body(let piece): body += String(buffer: piece)
                case .end: ended = true
                }
            }
        }
        return (head, body, ended)
    }

    @Test("a chunked body, split at every size, gives the same head, body and end; hop-by-hop headers are gone")
    func chunkedAnySplit() {
        for size in 1...Self.chunked.utf8.count {
            let (head, body, ended) = unframe(Self.chunked, pieces: size)
            #expect(head?.status == .ok)
            #expect(head?.headers["content-type"] == ["text/event-stream"])
            #expect(head?.headers["transfer-encoding"] == [] && head?.headers["connection"] == [])
            #expect(body == "data: hello\n\n: hi\n", "split \(size)")
            #expect(ended)
        }
    }

    @Test("a Content-Length body ends after its length; the answer to HEAD has no body")
    func lengthAndHEAD() {
        let text = "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope\n"
        for size in [1, 3, 100] {
            let (head, body, ended) = unframe(text, pieces: size)
            #expect(head?.status == .notFound && body == "nope\n" && ended)
            #expect(head?.headers["content-length"] == ["5"])
        }
        let headOnly = unframe("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", pieces: 4, answersHEAD: true)
        #expect(headOnly.head?.status == .ok && headOnly.body.isEmpty && headOnly.ended)
    }

    @Test("a cut chunked body never ends; a body without framing ends at the close")
    func cutAndUntilClose() {
        let cut = unframe(String(decoding: Array(Self.chunked.utf8).dropLast(5), as: UTF8.self), pieces: 7)
        #expect(cut.body == "data: hello\n\n: hi\n", "\(cut.body.debugDescription)")
        #expect(!cut.ended)
        var unframer = ResponseUnframer()
        let parts = unframer.feed(ByteBuffer(string: "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x\n\n"))
        #expect(parts.count == 2)
        #expect(unframer.finishAtClose() == .end)
    }

    @Test("an unreadable head or chunk size gives nothing more and finishes")
    func malformed() {
        var unframer = ResponseUnframer()
        #expect(unframer.feed(ByteBuffer(string: "garbage\r\n\r\n")).isEmpty)
        #expect(unframer.isFinished)
        var badChunk = ResponseUnframer()
        let parts = badChunk.feed(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
        #expect(parts.count == 1 && badChunk.isFinished)
    }
}
