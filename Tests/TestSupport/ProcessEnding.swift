import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Process {
    /// Ends the process now if it still runs, and reaps it. With SIGKILL, not `terminate()`'s SIGTERM:
    /// a process started from one of Swift concurrency's threads inherits that thread's signal mask,
    /// in which SIGTERM is blocked, so `terminate()` left helpers (collector.py) running after the tests.
    public func end() {
        guard isRunning else { return }
        kill(processIdentifier, SIGKILL)
        waitUntilExit()
    }
}
