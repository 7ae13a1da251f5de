import NIOEmbedded
import Testing

@testable import SSEProxy

/// Counts the sends it was told to make.
private final class CountingConnection: FlushesWrites {
    var flushes = 0
    func flushWrites() { flushes += 1 }
}

/// `count` upstream reads in one turn, each writing to a connection of its own, as
/// `ProxyConnection.upstreamRead` does: write (`flushSoon`), then `flushIfBatchIsFull`.
private func reads(_ count: Int, through flushes: DeferredFlushes) -> [CountingConnection] {
    (0..<count).map { _ in
        let connection = CountingConnection()
        flushes.flushSoon(connection)
        // A connection's own write never sends the batch: only the check between reads does.
        #expect(connection.flushes == 0)
        flushes.flushIfBatchIsFull()
        return connection
    }
}

@Suite struct DeferredFlushesTests {
    @Test func waitsForTheEndOfTheTurnBelowTheBatch() {
        let loop = EmbeddedEventLoop()
        let connections = reads(DeferredFlushes.maxBatch - 1, through: DeferredFlushes(loop: loop))
        #expect(connections.allSatisfy { $0.flushes == 0 })
        loop.run()
        #expect(connections.allSatisfy { $0.flushes == 1 })
        loop.run()
        #expect(connections.allSatisfy { $0.flushes == 1 })
    }

    @Test func sendsAFullBatchAtOnceAndTheRestAtTheEndOfTheTurn() {
        let loop = EmbeddedEventLoop()
        let connections = reads(DeferredFlushes.maxBatch + 5, through: DeferredFlushes(loop: loop))
        #expect(connections.prefix(DeferredFlushes.maxBatch).allSatisfy { $0.flushes == 1 })
        #expect(connections.dropFirst(DeferredFlushes.maxBatch).allSatisfy { $0.flushes == 0 })
        loop.run()
        #expect(connections.allSatisfy { $0.flushes == 1 })
    }

    @Test func aTurnAfterAFlushQueuesItsOwn() {
        let loop = EmbeddedEventLoop()
        let flushes = DeferredFlushes(loop: loop)
        let first = reads(1, through: flushes)
        loop.run()
        let second = reads(1, through: flushes)
        #expect(second[0].flushes == 0)
        loop.run()
        #expect(first[0].flushes == 1)
        #expect(second[0].flushes == 1)
    }
}
