import EventStream
import NIOCore
import NIOHTTP1

/// A request's path and query, percent-decoded.
struct Request {
    let head: HTTPRequestHead
    /// The path without its query, as sent.
    let path: String
    /// Decoded path segments (empty for `/`), or nil when the path is not valid percent-encoded UTF-8.
    let pathSegments: [String]?
    /// Decoded query parameters; the first of a repeated name wins.
    let query: [String: String]

    init(head: HTTPRequestHead) {
        self.head = head
        let uri = head.uri
        let queryStart = uri.firstIndex(of: "?")
        path = String(uri[..<(queryStart ?? uri.endIndex)])
        var query: [String: String] = [:]
        if let queryStart {
            for pair in uri[uri.index(after: queryStart)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = Self.percentDecoded(parts[0], plusIsSpace: true) else { continue }
                let value = parts.count > 1 ? Self.percentDecoded(parts[1], plusIsSpace: true) : ""
                if let value, query[name] == nil { query[name] = value }
            }
        }
        self.query = query
        var segments: [String] = []
        var valid = true
        for raw in path.split(separator: "/", omittingEmptySubsequences: true) {
            guard let segment = Self.percentDecoded(raw, plusIsSpace: false) else {
                valid = false
                break
            }
            segments.append(segment)
        }
        pathSegments = valid ? segments : nil
    }

    /// `text` with `%XX` escapes decoded; nil when an escape is malformed or the result is not UTF-8.
    static func percentDecoded(_ text: Substring, plusIsSpace: Bool) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            } else if plusIsSpace, byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Turns a publish request (`POST /streams/NAME`) into an event: the body is the data, with `event`,
/// `id` and `retry` from the query; or, with a JSON content type, a body `{"event","data","id","retry"}`.
enum PublishRequest {
    struct Problem: Error {
        let message: String
    }

    static func event(query: [String: String], contentType: String?, body: ByteBuffer) -> Result<ServerSentEvent, Problem> {
        guard let text = String(validating: body.readableBytesView, as: UTF8.self) else {
            return .failure(Problem(message: "the request body is not valid UTF-8"))
        }
        var type = query["event"] ?? ServerSentEvent.defaultType
        var id = query["id"]
        var retry: Int?
        if let retryText = query["retry"] {
            guard let value = Int(retryText), (0...DurationValue.maximumMilliseconds).contains(value) else {
                return .failure(Problem(message: "retry=\(retryText) is not a number of milliseconds from 0 to \(DurationValue.maximumMilliseconds)"))
            }
            retry = value
        }
        var data = text
        let isJSON = contentType.map { $0.lowercased().hasPrefix("application/json") } ?? false
        if isJSON {
            let value: JSONValue
            do { value = try JSONValue(parsing: text) } catch {
                return .failure(Problem(message: "the JSON body is malformed: \(error)"))
            }
            guard case .object(let members) = value else {
                return .failure(Problem(message: "the JSON body must be an object {\"event\",\"data\",\"id\",\"retry\"}"))
            }
            for (key, member) in members {
                switch (key, member) {
                case ("event", .string(let string)): type = string
                case ("id", .string(let string)): id = string
                case ("id", .number(let literal)): id = literal
                case ("retry", _):
                    guard let value = member.intValue, (0...DurationValue.maximumMilliseconds).contains(value) else {
                        return .failure(
                            Problem(
                                message:
                                    "\"retry\" must be a whole number of milliseconds from 0 to \(DurationValue.maximumMilliseconds), not \(member.serialized)"
                            ))
                    }
                    retry = value
                case ("data", .string(let string)): data = string
                case ("data", _): data = member.serialized
                case ("event", _), ("id", _):
                    return .failure(Problem(message: "\"\(key)\" must be a string, not \(member.serialized)"))
                default:
                    return .failure(Problem(message: "unknown key \"\(key)\" in the JSON body; expected event, data, id or retry"))
                }
            }
            if value["data"] == nil { return .failure(Problem(message: "the JSON body needs \"data\"")) }
        }
        return .success(ServerSentEvent(type: type, data: data, id: id, retry: retry))
    }
}

/// Compares secrets in time that depends only on their lengths, not on where they first differ.
enum ConstantTime {
    static func equals(_ offered: String, _ secret: String) -> Bool {
        let left = Array(offered.utf8)
        let right = Array(secret.utf8)
        var difference = UInt8(truncatingIfNeeded: left.count ^ right.count)
        for index in 0..<max(left.count, right.count) {
            let a = index < left.count ? left[index] : 0
            let b = index < right.count ? right[index] : 0
            difference |= a ^ b
        }
        return difference == 0 && left.count == right.count
    }
}

/// The JSON of `GET /streams`.
enum ServerListing {
    static func json(_ snapshot: ServerSnapshot, supplement: [(key: String, value: JSONValue)] = []) -> String {
        let streams = snapshot.streams.map { stream -> JSONValue in
            .object([
                ("name", .string(stream.name)),
                ("history", .number(String(stream.historyCount))),
                ("lastId", stream.lastId.map(JSONValue.string) ?? .null),
                ("types", .array(stream.types.map(JSONValue.string))),
                ("heartbeatMs", .number(String(stream.settings.heartbeatMilliseconds))),
                ("retryMs", stream.settings.retryMilliseconds.map { .number(String($0)) } ?? .null),
                (
                    "clients",
                    .array(
                        stream.clients.map { client in
                            .object([
                                ("id", .number(String(client.id))), ("remote", .string(client.remote)),
                                ("connectedAt", .number(String(format3(client.connectedAt)))), ("eventsSent", .number(String(client.eventsSent))),
                                ("http", .string(client.transport.httpVersion)), ("tls", .bool(client.transport.isSecure)),
                                ("h2Stream", client.transport.http2StreamID.map { .number(String($0)) } ?? .null),
                            ])
                        })
                ),
            ])
        }
        return JSONValue.object([("streams", .array(streams))] + supplement.filter { $0.key != "streams" }).serialized + "\n"
    }

    private static func format3(_ seconds: Double) -> String {
        let milliseconds = Int((seconds * 1000).rounded())
        return "\(milliseconds / 1000).\(String(milliseconds % 1000).leftPadded(to: 3))"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
