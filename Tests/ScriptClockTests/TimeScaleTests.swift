import ScriptClock
import Testing

@Suite("The workbench clock's time scale")
struct TimeScaleTests {
    @Test("at speed 1 durations are unchanged; at speed S they last 1/S")
    func scaling() {
        let scale = TimeScale()
        #expect(scale.wall(.seconds(3)) == .seconds(3))
        #expect(scale.wallNanoseconds(milliseconds: 3000) == 3_000_000_000)
        scale.speed = 100
        #expect(scale.wall(.seconds(3)) == .milliseconds(30))
        #expect(scale.wallNanoseconds(milliseconds: 3000) == 30_000_000)
        #expect(scale.wallNanoseconds(milliseconds: 0) == 0)
    }

    @Test("a positive duration never becomes zero, and huge ones do not overflow")
    func bounds() {
        let scale = TimeScale(speed: 1_000_000)
        #expect(scale.wallNanoseconds(milliseconds: 1) == 1)
        scale.speed = 0.001
        #expect(scale.wallNanoseconds(milliseconds: Int.max) == Int64.max)
    }

    @Test("speeds outside the accepted range are brought into it; NaN means 1")
    func clamping() {
        #expect(TimeScale(speed: 0).speed == TimeScale.speeds.lowerBound)
        #expect(TimeScale(speed: -5).speed == TimeScale.speeds.lowerBound)
        #expect(TimeScale(speed: .infinity).speed == TimeScale.speeds.upperBound)
        #expect(TimeScale(speed: .nan).speed == 1)
    }
}
