import EventStream
import SSEClient
import SSEServer

/// Server-side faults on a stream or one of its clients: `drop`, `stall`, `delay`, `chunk`,
/// `corrupt`, `reject`. Each acts on an existing stream (a typo creates nothing), or on one of its
/// connections with `client=N`.
extension Engine {
    /// What a fault command aims at: the server, the stream, the audience (the stream or one
    /// connection) and how to name it in the result line.
    private struct FaultTarget {
        var server: SSEServer
        var stream: String
        var audience: Audience
        var who: String
    }

    private func faultTarget(_ command: ParsedCommand) async throws(CommandError) -> FaultTarget {
        if let conn = command.options.last(where: { $0.name == "conn" }) {
            throw CommandError(
                "\(command.spec.name): conn= picks an exchange of a proxy; on a stream, client=N picks a client", column: conn.value.column)
        }
        let server = try runningServer(command)
        let stream = try await existingStream(command, on: server)
        let client = command.connection ?? command.integer("client")
        return FaultTarget(
            server: server, stream: stream, audience: client.map(Audience.client) ?? .stream(stream), who: client.map { "client \($0)" } ?? stream)
    }

    func drop(_ command: ParsedCommand) async throws(CommandError) {
        let target = try await faultTarget(command)
        let mode = command.option("mode").flatMap(DropMode.init(rawValue:)) ?? .clean
        let count = try await serverCall(command) { try await target.server.drop(target.audience, mode: mode) }
        report(.info("dropped \(count)"), ["dropped \(count) connection\(count == 1 ? "" : "s") of \(target.who) (\(mode.rawValue))"])
    }

    func stall(_ command: ParsedCommand) async throws(CommandError) {
        let target = try await faultTarget(command)
        let duration = command.duration("duration") ?? DurationValue(clampingMilliseconds: 0)
        try await serverCall(command) { _ = try await target.server.stall(target.audience, for: duration.duration) }
        report(.info("stalled \(target.who)"), ["\(target.who) stalled for \(duration)"])
    }

    func delay(_ command: ParsedCommand) async throws(CommandError) {
        let target = try await faultTarget(command)
        let duration = command.duration("duration") ?? DurationValue(clampingMilliseconds: 0)
        let added = duration.milliseconds == 0 ? nil : duration.duration
        try await serverCall(command) { _ = try await target.server.delay(target.audience, by: added) }
        report(
            .info("delay \(target.who)"),
            [added == nil ? "\(target.who): no added latency" : "\(target.who): each event delayed by \(duration)"])
    }

    func chunk(_ command: ParsedCommand) async throws(CommandError) {
        let target = try await faultTarget(command)
        let size = try chunkSize(from: command)
        let interval = command.duration("interval")?.duration ?? .milliseconds(10)
        try await serverCall(command) { _ = try await target.server.chunk(target.audience, size: size, interval: interval) }
        report(
            .info("chunk \(target.who)"), [size.map { "\(target.who): frames written in \($0)-byte pieces" } ?? "\(target.who): whole frames again"])
    }

    func corrupt(_ command: ParsedCommand) async throws(CommandError) {
        let target = try await faultTarget(command)
        let kind = command.argument("kind") ?? ""
        let corruption = corruption(from: command)
        try await serverCall(command) { try await target.server.corrupt(target.audience, corruption) }
        report(.info("corrupt \(target.who)"), ["\(target.who): the next event will be malformed (\(kind))"])
    }

    func reject(_ command: ParsedCommand) async throws(CommandError) {
        let target = try await faultTarget(command)
        let statusText = command.argument("status") ?? ""
        let count = command.integer("count") ?? 1
        let rejection = try self.rejection(from: command)
        try await serverCall(command) { try await target.server.reject(stream: target.stream, rejection, count: count) }
        report(
            .info("reject \(target.stream)"),
            ["\(target.stream): the next \(count == 1 ? "connection gets" : "\(count) connections get") \(statusText)"])
    }

    /// The piece size a `chunk` line asks for; nil for `off`.
    func chunkSize(from command: ParsedCommand) throws(CommandError) -> Int? {
        let sizeText = command.argument("size") ?? ""
        if sizeText == "off" { return nil }
        guard let bytes = ByteSize(parsing: sizeText), bytes.bytes >= 1 else {
            throw CommandError("chunk: SIZE '\(sizeText)' is not a size (3, 1KB) or off", column: command.arguments["size"]?.column ?? 1)
        }
        return bytes.bytes
    }

    /// The malformation a `corrupt` line asks for.
    func corruption(from command: ParsedCommand) -> Corruption {
        switch command.argument("kind") ?? "" {
        case "bare-cr": .bareCarriageReturns
        case "invalid-utf8": .invalidUTF8
        case "long-line": .longLine(ByteSize(parsing: command.option("size") ?? "")?.bytes ?? 1 << 20)
        default: .noBlankLine
        }
    }

    /// The answer a `reject` line describes: a status (with `body=` and `header=`), a redirect, or wrong-type.
    func rejection(from command: ParsedCommand) throws(CommandError) -> Rejection {
        let statusText = command.argument("status") ?? ""
        let statusColumn = command.arguments["status"]?.column ?? 1
        var rejection: Rejection
        if statusText == "wrong-type" {
            rejection = .wrongContentType("text/plain")
        } else if let status = Int(statusText), (100...599).contains(status) {
            if [301, 302, 303, 307, 308].contains(status) {
                guard let location = command.option("location") else {
                    throw CommandError("reject: a \(status) redirect needs location=URL", column: statusColumn)
                }
                rejection = .redirect(status, location: location)
            } else {
                rejection = .status(status)
            }
        } else {
            throw CommandError("reject: STATUS '\(statusText)' is not an HTTP status (100–599) or wrong-type", column: statusColumn)
        }
        if let body = command.option("body") { rejection.body = try dataValue(body, command: command) }
        for header in command.options where header.name == "header" {
            do throws(RequestError) {
                let field = try RequestHead.header(parsing: header.value.text)
                rejection.headers.append(HeaderField(name: field.name, value: field.value))
            } catch {
                throw CommandError("reject: \(error)", column: header.value.column)
            }
        }
        do throws(ServerError) { return try rejection.validated() } catch { throw CommandError("reject: \(error)", column: statusColumn) }
    }
}
