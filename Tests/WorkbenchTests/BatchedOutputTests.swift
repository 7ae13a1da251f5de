import Testing

@testable import Workbench

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Batched output: items from many threads, written in order, nothing lost, no wake-ups while idle")
struct BatchedOutputTests {
    /// A pipe whose read end is non-blocking, and what has arrived on it so far.
    final class Pipe {
        let read: Int32
        let write: Int32
        private var received: [UInt8] = []

        init() throws {
            var ends: [Int32] = [0, 0]
            try #require(pipe(&ends) == 0)
            (read, write) = (ends[0], ends[1])
            _ = fcntl(read, F_SETFL, fcntl(read, F_GETFL) | O_NONBLOCK)
        }

        deinit {
            close(read)
            close(write)
        }

        var text: String {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(read, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                received += buffer[..<count]
            }
            return String(decoding: received, as: UTF8.self)
        }

        /// Waits (up to 10 s, checking every 10 ms) until `condition` holds for what arrived.
        func waitFor(_ condition: (String) -> Bool) async -> String {
            for _ in 0..<1000 {
                let now = text
                if condition(now) { return now }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return text
        }
    }

    @Test("items added from several tasks at once all arrive, each task's in the order it added them")
    func concurrentItemsArriveInOrder() async throws {
        let pipe = try Pipe()
        let output = BatchedOutput<String>(console: Console(descriptor: pipe.write), interval: .milliseconds(1)) { [$0] }
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for number in 0..<250 { output.add("w\(writer) \(number)") }
                }
            }
        }
        let text = await pipe.waitFor { $0.split(separator: "\n").count == 1000 }
        let lines = text.split(separator: "\n")
        #expect(lines.count == 1000)
        for writer in 0..<4 {
            let own = lines.filter { $0.hasPrefix("w\(writer) ") }.map { Int($0.split(separator: " ")[1]) }
            #expect(own == (0..<250).map { $0 })
        }
    }

    @Test("nothing is written before an item comes; a later item after a quiet spell is written too")
    func writesOnlyWhenThereIsSomething() async throws {
        let pipe = try Pipe()
        let output = BatchedOutput<String>(console: Console(descriptor: pipe.write), interval: .milliseconds(1)) { [$0] }
        try await Task.sleep(for: .milliseconds(20))
        #expect(pipe.text.isEmpty)
        output.add("first")
        #expect(await pipe.waitFor { $0 == "first\n" } == "first\n")
        try await Task.sleep(for: .milliseconds(20))
        output.add("second")
        #expect(await pipe.waitFor { $0 == "first\nsecond\n" } == "first\nsecond\n")
    }

    @Test("finish writes what is queued at once, and an item added after it is written at once too")
    func finishWritesTheRest() throws {
        let pipe = try Pipe()
        // An interval no test waits for: only `finish` can have written these.
        let output = BatchedOutput<String>(console: Console(descriptor: pipe.write), interval: .seconds(3600)) { [$0, "(\($0))"] }
        output.add("a")
        output.add("b")
        output.finish()
        #expect(pipe.text == "a\n(a)\nb\n(b)\n")
        output.add("late")
        #expect(pipe.text == "a\n(a)\nb\n(b)\nlate\n(late)\n")
    }
}
