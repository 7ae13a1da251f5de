import Testing

@testable import SSEServer

@Suite("Descriptor limit: a count that cannot fit is said plainly")
struct DescriptorLimitTests {
    @Test("the warning names the limit and what fits, at the edge and past it; nothing when it fits")
    func warning() {
        #expect(DescriptorLimit.warning(wanted: 19_900, what: "subscribers", limit: 20_000) == nil)
        #expect(
            DescriptorLimit.warning(wanted: 19_901, what: "subscribers", limit: 20_000)
                == "ulimit -n is 20000: at most ~19900 subscribers fit in one process, fewer than the 19901 asked")
        #expect(DescriptorLimit.warning(wanted: 10, what: "connections", limit: -1) == nil, "an unreadable limit warns of nothing")
    }

    @Test("raising to the hard limit leaves the soft limit at least where it was")
    func raise() {
        let before = Acceptor.descriptorLimit()
        #expect(DescriptorLimit.raiseToHard() >= before)
        #expect(Acceptor.descriptorLimit() >= before)
    }
}
