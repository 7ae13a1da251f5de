import NIOCore

/// Runs tasks on one event loop: a task that prefers it (`withTaskExecutorPreference`) runs its
/// code on the loop's thread, so a client that reads there hands each read to its parser without a
/// hop to another thread. Work it enqueues runs in order, after the loop's current work.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let loop: any EventLoop

    public init(_ loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
