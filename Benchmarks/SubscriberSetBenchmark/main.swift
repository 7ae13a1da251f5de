// Measures a stream's subscriber set (SSEServer's SlotSet): the cost of one leave and one join at
// 1,000, 10,000 and 100,000 subscribers, beside the linear removal it replaced (an array searched for
// the leaver). Each size: the set filled, then one warm-up round and the best of 3 rounds of 100,000
// leaves and joins of members picked at random (a fixed seed). Prints ns per leave+join.
import EventStream
import SSEServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

final class Member: Slotted {
    var slot = -1
}

func nanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// The best of 3 timed rounds (after one warm-up) of `body`, in ns per operation.
func best(operations: Int, _ body: () -> Void) -> Double {
    body()
    var fastest = UInt64.max
    for _ in 0..<3 {
        let start = nanoseconds()
        body()
        fastest = min(fastest, nanoseconds() - start)
    }
    return Double(fastest) / Double(operations)
}

let rounds = 100_000
var checksum = 0
print("subscribers  slot set ns/leave+join  array ns/leave+join")
for size in [1_000, 10_000, 100_000] {
    let members = (0..<size).map { _ in Member() }
    var set = SlotSet<Member>()
    for member in members { set.insert(member) }
    var random = SeededGenerator(seed: 7)
    let slotted = best(operations: rounds) {
        for _ in 0..<rounds {
            let member = members[Int.random(in: 0..<size, using: &random)]
            set.remove(member)
            set.insert(member)
        }
        checksum &+= set.count
    }
    // The linear way, fewer rounds at large sizes (it is O(n) per leave).
    var array = members
    let linearRounds = max(100, rounds * 1_000 / size / 10)
    let linear = best(operations: linearRounds) {
        for _ in 0..<linearRounds {
            let member = members[Int.random(in: 0..<size, using: &random)]
            array.removeAll { $0 === member }
            array.append(member)
        }
        checksum &+= array.count
    }
    print("\(String(size).padding(11)) \(String(format1(slotted)).padding(22)) \(format1(linear))")
}
print("checksum \(checksum)")

func format1(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return "\(rounded)"
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
