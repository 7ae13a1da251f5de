import EventStream
import ScriptClock
import Testing

/// The one duration type: bounded on the way in, so no conversion after can trap (issue 15.3).
@Suite("Durations")
struct DurationValueTests {
    @Test(
        "units parse; the bound is 7 days, and a text past it names the bound",
        arguments: [
            ("250ms", 250), ("2s", 2000), ("1m", 60_000), ("1min", 60_000), ("1h", 3_600_000), ("7d", 604_800_000), ("0", 0), ("168h", 604_800_000),
        ])
    func parses(text: String, milliseconds: Int) {
        #expect(DurationValue(parsing: text)?.milliseconds == milliseconds)
    }

    @Test(
        "too long, unknown units, bare numbers and overflowing digits are errors that say why",
        arguments: [
            ("2562048h", "'2562048h' is longer than the longest duration drip takes (7d)"),
            ("169h", "'169h' is longer than the longest duration drip takes (7d)"),
            ("99999999999999999999s", "'99999999999999999999s' is longer than the longest duration drip takes (7d)"),
            ("9223372036854775807h", "'9223372036854775807h' is longer than the longest duration drip takes (7d)"),
            ("5", "'5' has no unit: 5 what? write 5s or 5ms"),
            ("5x", "'5x' has an unknown unit 'x' (ms, s, m, h or d)"),
            ("-5s", "'-5s' is not a duration (250ms, 2s, 1m, 1h)"),
            ("", "'' is not a duration (250ms, 2s, 1m, 1h)"),
        ])
    func refuses(text: String, message: String) {
        guard case .failure(let error) = DurationValue.parse(text) else {
            Issue.record("\(text) parsed")
            return
        }
        #expect(error.description == message)
    }

    @Test("a bare number is milliseconds only where asked (the retry: field's unit)")
    func bareMilliseconds() {
        #expect(DurationValue(parsing: "2000", bareMilliseconds: true)?.milliseconds == 2000)
        #expect(DurationValue(parsing: "2000") == nil)
    }

    @Test("clamping and the conversions at the edges")
    func conversions() {
        #expect(DurationValue(clampingMilliseconds: .max) == .maximum)
        #expect(DurationValue(clampingMilliseconds: -1) == .zero)
        #expect(DurationValue.maximum.nanoseconds == 604_800_000_000_000)
        #expect(Duration.seconds(Int64.max).clampedNanoseconds == .max)
        #expect(Duration.milliseconds(-5).clampedNanoseconds == 0)
        #expect(Duration.milliseconds(1500).clampedMilliseconds == 1500)
        #expect(Duration.milliseconds(1500).secondsValue == 1.5)
        // The slowest clock stretches the longest duration a thousand times, still inside Int64 nanoseconds.
        let slowest = TimeScale(speed: TimeScale.speeds.lowerBound)
        #expect(slowest.wall(DurationValue.maximum.duration).clampedNanoseconds < .max)
    }
}
