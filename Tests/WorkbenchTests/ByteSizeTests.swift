import Testing
import Workbench

@Suite("Byte sizes")
struct ByteSizeTests {
    @Test(
        "numbers with units",
        arguments: [
            ("512", 512), ("1KB", 1024), ("64KiB", 65536), ("1mb", 1 << 20), ("1MiB", 1 << 20), ("2G", 2 << 30), ("10b", 10),
        ])
    func parses(text: String, bytes: Int) {
        #expect(ByteSize(parsing: text)?.bytes == bytes)
    }

    @Test("anything else is rejected", arguments: ["", "0", "-1", "1.5MB", "MB", "1TB", "1 MB", "99999999999999999999G"])
    func rejects(text: String) {
        #expect(ByteSize(parsing: text) == nil)
    }

    @Test("descriptions use the largest exact binary unit")
    func describes() {
        #expect(ByteSize(bytes: 1 << 20).description == "1MiB")
        #expect(ByteSize(bytes: 1536).description == "1536")
        #expect(ByteSize(bytes: 3 << 10).description == "3KiB")
    }
}
