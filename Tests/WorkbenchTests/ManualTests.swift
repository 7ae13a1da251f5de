import Foundation
import Testing
import Workbench

/// The committed manual must follow the command table (scripts/man --check catches any other
/// staleness; this names the missing command).
@Suite("Manual pages")
struct ManualTests {
    static let page = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../man/drip-script.5").standardized

    @Test("every command of the table has its entry in man/drip-script.5, with its usage and summary — the text help shows")
    func everyCommandDocumented() throws {
        let text = try String(contentsOf: Self.page, encoding: .utf8)
        for spec in CommandTable.commands {
            #expect(text.contains(".It Ic \(spec.name)\n"), "drip-script.5 has no entry for \(spec.name); run scripts/man")
            #expect(text.contains(".Dl \(spec.usage.replacingOccurrences(of: "\\", with: "\\e"))\n"), "stale usage for \(spec.name)")
            let help = HelpText.lines(for: spec)
            #expect(help.contains("usage: \(spec.usage)"))
            #expect(help.contains(spec.summary))
        }
    }

    @Test("the generated page is what is committed (same date)")
    func generatedMatchesCommitted() throws {
        let committed = try String(contentsOf: Self.page, encoding: .utf8)
        let date = committed.split(separator: "\n").first.map { String($0.dropFirst(4)) } ?? ""
        #expect(ManualPage.script(date: date) == committed, "man/drip-script.5 is stale; run scripts/man")
    }
}
