import ArgumentParser
import Workbench

/// Prints drip-script(5) from the command table; scripts/man writes it into man/.
struct ManualScript: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manual-script", abstract: "Print the drip-script(5) manual page (mdoc), generated from the command table.",
        shouldDisplay: false)

    @Option(help: "The date on the page, e.g. 'November 22, 2026'.")
    var date: String

    func run() throws {
        print(ManualPage.script(date: date), terminator: "")
    }
}
