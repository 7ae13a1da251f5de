import EventStream
import NIOCore
import NIOPosix
import SSEClient
import Synchronization

/// When a churning subscriber vanishes: after `reads` events, by a reset or by a plain close.
struct VanishPlan: Sendable {
    var reads: Int
    var resets: Bool
}

/// The churning connections of a load run: `options.churners` slots, each looping subscribe → read a
/// few events → vanish, until cancelled. Counts cycles, failures and the peak of open subscriptions.
final class Churn: Sendable {
    private let options: LoadOptions
    private let group: EventLoopGroup
    private let transport: LoadTransport
    private let steady: Int
    private let counts = Mutex<(cycles: Int, failures: Int, open: Int, peak: Int)>((0, 0, 0, 0))

    init(options: LoadOptions, group: EventLoopGroup, transport: LoadTransport, steady: Int) {
        self.transport = transport
        self.options = options
        self.group = group
        self.steady = steady
    }

    var cycles: Int { counts.withLock { $0.cycles } }
    var failures: Int { counts.withLock { $0.failures } }
    var peak: Int { counts.withLock { $0.peak } }

    func run() async {
        guard options.churners > 0 else { return }
        await withTaskGroup(of: Void.self) { slots in
            for slot in 0..<options.churners {
                slots.addTask { await self.loop(seed: UInt64(slot + 1)) }
            }
        }
    }

    private func loop(seed: UInt64) async {
        var random = SeededGenerator(seed: seed)
        while !Task.isCancelled {
            let plan = VanishPlan(reads: Int(random.next() % UInt64(options.churnReads)) + 1, resets: random.next() % 2 == 0)
            let subscription: Subscription
            do {
                subscription = try await Subscription.open(
                    options.url, headers: options.headers, group: group, highestSequence: options.events, vanishAfter: plan,
                    transport: transport, index: Int.random(in: 0..<Int.max))
            } catch {
                counts.withLock { $0.failures += 1 }
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            counts.withLock {
                $0.open += 1
                $0.peak = max($0.peak, self.steady + $0.open)
            }
            let closed = try? await subscription.channel.eventLoop.submit { subscription.handler.value.closed.futureResult }.get()
            await withTaskCancellationHandler {
                try? await closed?.get()
            } onCancel: {
                subscription.channel.close(promise: nil)
            }
            counts.withLock {
                $0.open -= 1
                $0.cycles += 1
            }
        }
    }
}
