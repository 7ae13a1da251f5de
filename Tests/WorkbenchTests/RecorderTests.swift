import Testing

@testable import Workbench

@Suite("Recording")
struct RecorderTests {
    @Test(
        "secrets are written as *** unless asked",
        arguments: [
            ("connect c1 https://x/e header='Authorization: Bearer abc.def'", "connect c1 https://x/e header='Authorization: Bearer ***'"),
            ("connect c1 news header=\"authorization: s3cret\"", "connect c1 news header=\"authorization: ***\""),
            ("serve token=s3cret", "serve token=***"),
            ("serve token='two words'", "serve token=***"),
            ("connect c1 'news?token=s3cret&x=1'", "connect c1 'news?token=***&x=1'"),
            ("emit news data=harmless", "emit news data=harmless"),
        ])
    func masking(line: String, masked: String) {
        #expect(Recorder.maskingSecrets(line) == masked)
    }

    @Test("recorded values are quoted so that they read back the same")
    func quoting() throws {
        for text in ["plain", "two words", "it's", "line\nbreak", "#hash", "a=b", "back\\slash", "", "tab\there", "é😀"] {
            let line = "x " + Recorder.quoted(text)
            #expect(try CommandLexer.words(in: line).map(\.text) == ["x", text], "\(text.debugDescription) → \(line)")
        }
    }
}
