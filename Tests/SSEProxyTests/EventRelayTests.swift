import EventStream
import NIOCore
import SSEProxy
import SSEServer
import Testing

/// What a relay made of reads: the bytes it wrote, what it reported, and how it ended.
private struct Relayed {
    var bytes: [UInt8] = []
    var observations: [EventRelay.Observation] = []
    var verdict = EventRelay.Verdict.carryOn
    var text: String { String(decoding: bytes, as: UTF8.self) }
    var fates: [String] {
        observations.compactMap { if case .event(let event, let fate) = $0 { "\(event.data):\(fate.rawValue)" } else { nil } }
    }
}

private func relay(_ reads: [String], through relay: inout EventRelay) -> Relayed {
    var result = Relayed()
    for read in reads where result.verdict == .carryOn {
        var output = ByteBuffer()
        result.verdict = Array(read.utf8).withUnsafeBytes { bytes in
            relay.relay(bytes, into: &output) { result.observations.append($0) }
        }
        result.bytes += output.readableBytesView
    }
    return result
}

private func relay(_ reads: [String], faults: RelayFaults = RelayFaults()) -> Relayed {
    var machine = EventRelay(faults: faults)
    return relay(reads, through: &machine)
}

@Suite("Event relay: events through the proxy")
struct EventRelayTests {
    @Test("without faults, every cut of a stream passes on byte for byte, read by read, and every event is seen")
    func passesThrough() {
        let stream = "retry: 500\n: hello\nid: 1\nevent: tick\ndata: one\n\ndata: two\r\ndata: lines\r\n\r\nid: 3\rdata: three\r\r"
        for cut in 0...stream.utf8.count {
            let bytes = Array(stream.utf8)
            let reads = [String(decoding: bytes[..<cut], as: UTF8.self), String(decoding: bytes[cut...], as: UTF8.self)]
            let result = relay(reads)
            #expect(result.text == stream, "cut at \(cut)")
            #expect(result.fates == ["one:passed", "two\nlines:passed", "three:passed"], "cut at \(cut)")
            #expect(result.observations.contains(.retry(500)) && result.observations.contains(.comment("hello")))
        }
        // A read with no blank line in it passes at once: nothing waits for the event's end.
        #expect(relay(["data: partial"]).text == "data: partial")
    }

    @Test("drop after=2: the connection ends right after the second event; comments do not count")
    func dropAfter() {
        let faults = RelayFaults(dropAfter: .init(events: 2, mode: .reset))
        let result = relay([": ping\n\ndata: 1\n\n: ping\n\ndata: 2\n\ndata: 3\n\n", "data: 4\n\n"], faults: faults)
        #expect(result.text == ": ping\n\ndata: 1\n\n: ping\n\ndata: 2\n\n")
        #expect(result.verdict == .drop(.reset))
        #expect(result.fates == ["1:passed", "2:passed"])
        #expect(result.observations.last == .faultDone("drop after"))
        // Counted across reads, with the second event cut in two.
        let split = relay(["data: 1\n\ndata: ", "2\n", "\ndata: 3\n\n"], faults: RelayFaults(dropAfter: .init(events: 2, mode: .clean)))
        #expect(split.text == "data: 1\n\ndata: 2\n\n")
        #expect(split.verdict == .drop(.clean))
    }

    @Test("skip count=2 swallows the next two events whole, even cut across reads; comments pass")
    func skip() {
        let result = relay(["data: 1\n\n: note\n\ndata: ", "2\n\ndata: 3\n\ndata: 4\n\n"], faults: RelayFaults(skip: 2))
        #expect(result.text == ": note\n\ndata: 3\n\ndata: 4\n\n")
        #expect(result.fates == ["1:skipped", "2:skipped", "3:passed", "4:passed"])
        #expect(result.observations.contains(.faultDone("skip")))
    }

    @Test("duplicate count=1 writes the next event twice; a CRLF split before it is not doubled")
    func duplicate() {
        let result = relay(["id: 1\ndata: a\n\nid: 2\ndata: b\n\n"], faults: RelayFaults(duplicate: 1))
        #expect(result.text == "id: 1\ndata: a\n\nid: 1\ndata: a\n\nid: 2\ndata: b\n\n")
        #expect(result.fates == ["a:duplicated", "b:passed"])
        let crlf = relay(["data: a\r\n\r", "\ndata: b\r\n\r\n"], faults: RelayFaults(skip: 0, duplicate: 2))
        #expect(crlf.text == "data: a\r\n\rdata: a\r\n\r\ndata: b\r\n\r\ndata: b\r\n\r\n")
    }

    @Test("rewrite: retry lines replaced and announced first, id lines left out, everything else kept")
    func rewrite() {
        let result = relay(["retry: 10000\nid: 7\nevent: x\ndata: a\n\nid: 8\rdata: b\r\r"], faults: RelayFaults(rewriteRetry: 250, stripsIds: true))
        #expect(result.text == "retry: 250\n\nretry: 250\nevent: x\ndata: a\n\ndata: b\r\r")
        // What the user sees is what the upstream sent.
        #expect(result.observations.contains(.retry(10000)))
    }

    @Test(
        "not reporting events (drip proxy --quiet): bytes pass the same, drop after= and skip still count events, nothing is reported but the faults' ends"
    )
    func countsWithoutReporting() {
        var machine = EventRelay(faults: RelayFaults(dropAfter: .init(events: 2, mode: .clean), skip: 1), reportsEvents: false)
        let result = relay([": c\n\ndata: 1\n\ndata: 2\n", "\ndata: 3\n\ndata: 4\n\n"], through: &machine)
        #expect(result.text == ": c\n\ndata: 2\n\ndata: 3\n\n")
        #expect(result.verdict == .drop(.clean))
        #expect(result.observations == [.faultDone("skip"), .faultDone("drop after")])
    }

    @Test("corrupt: the next event is malformed as the kind says, in the stream's own line ends; the one after passes")
    func corrupt() {
        let crlf = relay(["data: a\r\n\r\ndata: b\r\n\r\n"], faults: RelayFaults(corruptions: [.bareCarriageReturns]))
        #expect(crlf.text == "data: a\r\rdata: b\r\n\r\n")
        let blank = relay([": c\n\ndata: a\r\n\r\ndata: b\n\n"], faults: RelayFaults(corruptions: [.noBlankLine]))
        #expect(blank.text == ": c\n\ndata: a\r\ndata: b\n\n")
        let bytes = relay(["data: a\n\n"], faults: RelayFaults(corruptions: [.invalidUTF8])).bytes
        #expect(bytes == Array("data: ".utf8) + [0xFF, 0xFE] + Array("a\n\n".utf8))
    }

    @Test("a fault set in the middle of a block leaves that block alone and takes the next")
    func faultMidBlock() {
        var machine = EventRelay()
        let first = relay(["data: 1"], through: &machine)
        machine.faults.skip = 1
        let rest = relay(["\n\ndata: 2\n\ndata: 3\n\n"], through: &machine)
        #expect(first.text + rest.text == "data: 1\n\ndata: 3\n\n")
        #expect(rest.fates == ["1:passed", "2:skipped", "3:passed"])
    }

    @Test("counts and retries out of range are refused with the value named")
    func validation() {
        #expect(throws: ProxyError.self) { try RelayFaults(skip: -1).validated() }
        #expect(throws: ProxyError.outOfRange("after 1000001 is outside 0 to 1000000")) {
            try RelayFaults(dropAfter: .init(events: 1_000_001, mode: .clean)).validated()
        }
        #expect(throws: ProxyError.self) { try RelayFaults(rewriteRetry: 604_800_001).validated() }
        #expect(RelayFaults(skip: 999_999).adding(RelayFaults(skip: 5)).skip == RelayFaults.maxCount)
    }
}
