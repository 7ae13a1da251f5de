import NIOCore

/// Runs tasks on one event loop: a task that prefers it (`withTaskExecutorPreference`) runs its
/// code on the loop's thread, so a client whose connection is on that loop hands each read to its
/// parser without a hop to another thread. Jobs run in the order enqueued, after the loop's current
/// work. The loop must outlive every task that prefers it: a job enqueued on a loop that has shut
/// down never runs.
public final class EventLoopTaskExecutor: TaskExecutor {
    private let loop: any EventLoop

    public init(_ loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
