import Synchronization

/// Whether the workbench's lines carry the time, shared with the output closure (which the server's
/// log calls from its event loop).
final class LineStamps: Sendable {
    private let on = Atomic<Bool>(false)
    /// The clock the stamps read; a test may fix it.
    let now: @Sendable () -> String

    init(now: @escaping @Sendable () -> String = { Console.timestamp() }) { self.now = now }

    var isOn: Bool {
        get { on.load(ordering: .relaxed) }
        set { on.store(newValue, ordering: .relaxed) }
    }
}
