import NIOEmbedded
import Testing

@testable import SSEProxy

/// Counts the sends it was told to make.
private final class CountingConnection: FlushesWrites {
    var flushes = 0
    func flushWrites() { flushes += 1 }
}

@Suite struct DeferredFlushesTests {
    @Test func waitsForTheEndOfTheTurnBelowTheBatch() {
        let loop = EmbeddedEventLoop()
        let flushes = DeferredFlushes(loop: loop)
        let connections = (1..<DeferredFlushes.maxBatch).map { _ in CountingConnection() }
        for connection in connections {
            flushes.flushSoon(connection)
            flushes.flushIfBatchIsFull()
        }
        #expect(connections.allSatisfy { $0.flushes == 0 })
        loop.run()
        #expect(connections.allSatisfy { $0.flushes == 1 })
        loop.run()
        #expect(connections.allSatisfy { $0.flushes == 1 })
    }

    @Test func sendsAFullBatchAtOnceAndTheRestAtTheEndOfTheTurn() {
        let loop = EmbeddedEventLoop()
        let flushes = DeferredFlushes(loop: loop)
        let connections = (0..<(DeferredFlushes.maxBatch + 5)).map { _ in CountingConnection() }
        for (index, connection) in connections.enumerated() {
            flushes.flushSoon(connection)
            // Only between reads: a connection's own write never sends the batch.
            #expect(connections[index].flushes == 0)
            flushes.flushIfBatchIsFull()
        }
        let full = connections.prefix(DeferredFlushes.maxBatch)
        let rest = connections.dropFirst(DeferredFlushes.maxBatch)
        #expect(full.allSatisfy { $0.flushes == 1 })
        #expect(rest.allSatisfy { $0.flushes == 0 })
        loop.run()
        #expect(connections.allSatisfy { $0.flushes == 1 })
    }

    @Test func aTurnAfterAFlushQueuesItsOwn() {
        let loop = EmbeddedEventLoop()
        let flushes = DeferredFlushes(loop: loop)
        let first = CountingConnection()
        flushes.flushSoon(first)
        loop.run()
        let second = CountingConnection()
        flushes.flushSoon(second)
        #expect(second.flushes == 0)
        loop.run()
        #expect(first.flushes == 1)
        #expect(second.flushes == 1)
    }
}
