import NIOCore
import NIOHTTP1

/// Serialises HTTP/1.1 responses as raw bytes. The server writes bytes itself (rather than through
/// NIO's response encoder) so that one encoded event frame is shared by every subscriber, and so that
/// faults can break the framing on purpose.
package enum HTTPResponse {
    /// A complete response with a `Content-Length` body; `omitsBody` (the answer to HEAD) writes
    /// the head alone, with the length the body would have.
    static func complete(
        status: Int,
        contentType: String = "text/plain; charset=utf-8",
        body: String,
        headers: [(String, String)] = [],
        keepAlive: Bool,
        omitsBody: Bool = false,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let bodyBytes = body.utf8
        var all = headers
        all.append(("Content-Type", contentType))
        all.append(("Content-Length", String(bodyBytes.count)))
        all.append(("Connection", keepAlive ? "keep-alive" : "close"))
        var buffer = head(status: status, headers: all, allocator: allocator)
        if !omitsBody { buffer.writeBytes(bodyBytes) }
        return buffer
    }

    /// The status line and headers, ending with the blank line.
    static func head(status: Int, headers: [(String, String)], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeString("HTTP/1.1 \(status) \(reasonPhrase(status))\r\n")
        for (name, value) in headers {
            buffer.writeString(name)
            buffer.writeString(": ")
            buffer.writeString(sanitized(value))
            buffer.writeString("\r\n")
        }
        buffer.writeString("\r\n")
        return buffer
    }

    /// `bytes` framed as one HTTP/1.1 chunk: hex size, CRLF, bytes, CRLF.
    package static func chunk(_ bytes: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var framed = allocator.buffer(capacity: bytes.readableBytes + 12)
        framed.writeString(String(bytes.readableBytes, radix: 16))
        framed.writeStaticString("\r\n")
        framed.writeImmutableBuffer(bytes)
        framed.writeStaticString("\r\n")
        return framed
    }

    /// The zero-length chunk that ends a chunked body.
    package static func lastChunk(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 5)
        buffer.writeStaticString("0\r\n\r\n")
        return buffer
    }

    static func reasonPhrase(_ status: Int) -> String {
        HTTPResponseStatus(statusCode: status).reasonPhrase
    }

    /// Header values never carry CR or LF, whatever a caller passes (no response splitting).
    private static func sanitized(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 10 || $0 == 13 }) else { return value }
        return String(value.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
    }
}
