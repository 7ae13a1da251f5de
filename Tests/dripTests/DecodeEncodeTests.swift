import Foundation
import Testing

/// Runs the built `drip` binary as a user would: arguments, standard input, exit status, both outputs.
struct Drip {
    static let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("drip")
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], input: Data = Data(), stdoutPath: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        if let stdoutPath {
            process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        } else {
            process.standardOutput = stdout
        }
        process.standardError = stderr
        try process.run()
        let writer = Thread {
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let out = stdoutPath == nil ? stdout.fileHandleForReading.readDataToEndOfFile() : Data()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }
}

@Suite("drip decode and drip encode, end to end")
struct DecodeEncodeTests {
    let capture = Drip.fixtures.appendingPathComponent("capture.txt").path

    @Test("decode prints what EventSource dispatches, in order, from a file")
    func decodeFile() throws {
        let result = try Drip.run(["decode", "--comments", capture])
        #expect(result.status == 0)
        #expect(result.stderr == "")
        #expect(
            result.stdout == """
                {"comment":"welcome"}
                {"retry":2500}
                {"type":"tick","data":"{\\"n\\":1}","lastEventId":"1"}
                {"type":"tick","data":"line one\\n indented","lastEventId":"2"}
                {"type":"message","data":"no id change","lastEventId":"2"}
                {"type":"message","data":"reset","lastEventId":""}

                """)
    }

    @Test("decode reads standard input, and ignores comments unless asked")
    func decodeStdin() throws {
        let result = try Drip.run(["decode"], input: Data(": c\ndata: x\n\n".utf8))
        #expect(result.status == 0)
        #expect(result.stdout == "{\"type\":\"message\",\"data\":\"x\",\"lastEventId\":\"\"}\n")
    }

    @Test("decode | encode | decode gives back the first decode exactly")
    func roundTrip() throws {
        let first = try Drip.run(["decode", "--comments", capture])
        let encoded = try Drip.run(["encode"], input: Data(first.stdout.utf8))
        #expect(encoded.status == 0)
        let second = try Drip.run(["decode", "--comments", "-"], input: Data(encoded.stdout.utf8))
        #expect(second.stdout == first.stdout)
    }

    @Test("encode writes the wire format, ids only when they change")
    func encode() throws {
        let input = """
            {"type":"tick","data":"a\\nb","lastEventId":"1"}
            {"data":"c","lastEventId":"1"}

            {"retry":100}
            {"comment":"hi"}
            {"data":"d","lastEventId":""}
            """
        let result = try Drip.run(["encode"], input: Data(input.utf8))
        #expect(result.status == 0)
        #expect(result.stdout == "id: 1\nevent: tick\ndata: a\ndata: b\n\ndata: c\n\nretry: 100\n: hi\nid:\ndata: d\n\n")
    }

    @Test("a missing file is bad input: one line naming it, status 2")
    func missingFile() throws {
        let result = try Drip.run(["decode", "/no/such/capture"])
        #expect(result.status == 2)
        #expect(result.stderr == "drip decode: /no/such/capture: No such file or directory\n")
    }

    @Test("a directory is bad input too")
    func directory() throws {
        let result = try Drip.run(["encode", Drip.fixtures.path])
        #expect(result.status == 2)
        #expect(result.stderr == "drip encode: \(Drip.fixtures.path): is a directory\n")
    }

    @Test("a line over the limit stops decode with its line number; earlier events are printed")
    func lineOverLimit() throws {
        let input = "data: ok\n\ndata: " + String(repeating: "x", count: 2000) + "\n\n"
        let result = try Drip.run(["decode", "--max-line-length", "1KiB"], input: Data(input.utf8))
        #expect(result.status == 2)
        #expect(result.stdout == "{\"type\":\"message\",\"data\":\"ok\",\"lastEventId\":\"\"}\n")
        #expect(result.stderr == "drip decode: <stdin>:3: line longer than the limit of 1024 bytes\n")
    }

    @Test("an invalid size is a usage error naming the value")
    func badSize() throws {
        let result = try Drip.run(["decode", "--max-line-length", "lots"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("'lots'"))
    }

    @Test("malformed JSON for encode names file, line and column; status 2")
    func malformedJSON() throws {
        let result = try Drip.run(["encode"], input: Data("{\"data\":\"x\"}\n{\"data\":\"y\",}\n".utf8))
        #expect(result.status == 2)
        #expect(result.stdout == "data: x\n\n")
        #expect(result.stderr == "drip encode: <stdin>:2:13: expected a member name in quotes\n")
    }

    @Test("an id that cannot be encoded names the line; status 2")
    func unencodableID() throws {
        let result = try Drip.run(["encode"], input: Data(#"{"data":"x","lastEventId":"a\nb"}"#.utf8))
        #expect(result.status == 2)
        #expect(result.stderr == #"drip encode: <stdin>:1: id "a\nb" contains CR, LF or NUL"# + "\n")
    }

    @Test("a reader that leaves the pipe early ends decode quietly with status 0, not SIGPIPE")
    func readerLeaves() throws {
        let events = FileManager.default.temporaryDirectory.appendingPathComponent("drip-pipe-\(getpid()).txt")
        defer { try? FileManager.default.removeItem(at: events) }
        try Data(String(repeating: "data: x\n\n", count: 200_000).utf8).write(to: events)
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/bash")
        shell.arguments = ["-c", "set -o pipefail; '\(Drip.executable.path)' decode '\(events.path)' 2>&1 | head -1"]
        let output = Pipe()
        shell.standardOutput = output
        try shell.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0)
        #expect(printed == #"{"type":"message","data":"x","lastEventId":""}"# + "\n")
    }

    @Test("a failure to write is an I/O failure: status 1")
    func writeFailure() throws {
        try #require(FileManager.default.fileExists(atPath: "/dev/full"))
        let result = try Drip.run(["decode", capture], stdoutPath: "/dev/full")
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("drip decode: write failed: No space left on device"))
    }
}

@Suite("drip: the command line")
struct CommandLineTests {
    @Test("a mistyped subcommand names the nearest one (15, friction); -h is help for connect, not a header")
    func nearestSubcommand() throws {
        let typo = try Drip.run(["conect", "http://127.0.0.1:1/"])
        #expect(typo.status != 0)
        #expect(typo.stderr.contains("drip: no subcommand 'conect'; did you mean 'drip connect'?"), "\(typo.stderr)")
        let help = try Drip.run(["connect", "-h"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: drip connect"))
    }

    @Test("a subcommand parsed on its own (the quick start) still answers as drip SUB: usage, errors, --version")
    func leafSubcommandAnswersAsDrip() throws {
        let missing = try Drip.run(["connect"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("Error: Missing expected argument '<url>'"), "\(missing.stderr)")
        #expect(missing.stderr.contains("Usage: drip connect [<options>] <url>"), "\(missing.stderr)")
        let invalid = try Drip.run(["connect", "--backoff", "0", "http://127.0.0.1:1/"])
        #expect(invalid.status == 64)
        #expect(invalid.stderr.contains("Error: --backoff must be 1 or more"), "\(invalid.stderr)")
        #expect(invalid.stderr.contains("Usage: drip connect"), "\(invalid.stderr)")
        // Only the root has a version: the subcommand alone would call --version unknown.
        let version = try Drip.run(["connect", "--version"])
        #expect(version.status == 0)
        #expect(version.stdout == (try Drip.run(["--version"])).stdout)
        #expect(!version.stdout.isEmpty)
        // A failure in run() is reported by the root, as before.
        let refused = try Drip.run(["connect", "ftp://x/"])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains(#"Error: "ftp://x/" is not an http:// or https:// URL"#), "\(refused.stderr)")
        let parsed = try Drip.run(["decode", "--comments", Drip.fixtures.appendingPathComponent("capture.txt").path])
        #expect(parsed.status == 0)
        #expect(parsed.stdout.hasPrefix(#"{"#))
    }
}
