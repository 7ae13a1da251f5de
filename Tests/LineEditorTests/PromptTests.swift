import Testing

@testable import LineEditor

@Suite("Prompts libedit can decode")
struct PromptTests {
    @Test("a UTF-8 locale shows the prompt as it is")
    func utf8KeepsThePrompt() {
        #expect(LineEditor.displayable("on-connect chat …  > ", codeset: "UTF-8") == "on-connect chat …  > ")
    }

    @Test("another character set shows each character outside ASCII as ?")
    func asciiLocaleReplacesTheRest() {
        #expect(LineEditor.displayable("on-connect chat …  > ", codeset: "ANSI_X3.4-1968") == "on-connect chat ?  > ")
        #expect(LineEditor.displayable("drip [server]> ", codeset: "ANSI_X3.4-1968") == "drip [server]> ")
    }
}
