import Dispatch
import Synchronization

/// Regular-expression matching that honours a deadline. Swift's `Regex` cannot be interrupted, and
/// a pattern such as `^(a+)+$` backtracks for minutes on a few dozen bytes; so each match runs on a
/// thread of its own while the caller waits at most until its deadline. A match still running then
/// is abandoned (its thread finishes on its own, or when drip exits), and the expectation says so.
///
/// Invariant: at most `maxAbandoned` abandoned matches run at once; past that, matching refuses at
/// once (`.busy`) rather than stacking up threads that each hold a core.
enum RegexMatch {
    enum Outcome: Sendable, Equatable {
        case matched
        case notMatched
        /// The deadline passed before the match ended.
        case unfinished
        /// Too many abandoned matches are still running.
        case busy
    }

    static let maxAbandoned = 2
    private static let abandoned = Atomic<Int>(0)

    /// Whether `text` contains a match of every pattern, decided before `deadline`.
    static func all(_ patterns: [String], in text: String, before deadline: ContinuousClock.Instant) async -> Outcome {
        guard abandoned.load(ordering: .relaxed) < maxAbandoned else { return .busy }
        let race = Race()
        return await withCheckedContinuation { continuation in
            race.start(continuation)
            let timer = Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                if !Task.isCancelled, race.finish(.unfinished) { abandoned.add(1, ordering: .relaxed) }
            }
            DispatchQueue.global().async {
                let matched = patterns.allSatisfy { pattern in (try? Regex(pattern)).map { text.contains($0) } ?? false }
                if race.finish(matched ? .matched : .notMatched) {
                    timer.cancel()
                } else {
                    abandoned.subtract(1, ordering: .relaxed)
                }
            }
        }
    }

    /// Whoever finishes first resumes the waiting caller; the other learns it came second.
    private final class Race: Sendable {
        private let continuation = Mutex<CheckedContinuation<Outcome, Never>?>(nil)
        private let done = Atomic<Bool>(false)

        func start(_ waiting: CheckedContinuation<Outcome, Never>) { continuation.withLock { $0 = waiting } }

        /// Resumes the caller with `outcome` when nobody did yet; true when this call did.
        func finish(_ outcome: Outcome) -> Bool {
            guard done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return false }
            continuation.withLock { $0?.resume(returning: outcome) }
            return true
        }
    }
}
