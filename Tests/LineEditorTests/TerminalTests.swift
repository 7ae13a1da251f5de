import LineEditor
import Testing

@Suite("Terminal detection")
struct TerminalTests {
    @Test("a pipe is not interactive and gets no colour")
    func pipeIsNotATerminal() throws {
        var descriptors: [Int32] = [0, 0]
        try #require(pipe(&descriptors) == 0)
        defer { descriptors.forEach { close($0) } }
        #expect(!Terminal.isInteractive(descriptors[0], environment: ["TERM": "xterm"]))
        #expect(!Terminal.allowsColor(descriptors[1], environment: ["TERM": "xterm"]))
    }

}
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
