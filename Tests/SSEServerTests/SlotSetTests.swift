import EventStream
import Testing

@testable import SSEServer

/// The subscriber set under churn, against a plain model (an array searched linearly).
@Suite("SlotSet: O(1) join and leave")
struct SlotSetTests {
    final class Member: Slotted {
        let id: Int
        var slot = -1
        init(id: Int) { self.id = id }
    }

    @Test("random joins, leaves (of members and of strangers) and targeted lookups agree with a model", arguments: [1, 2, 3, 4, 5])
    func churn(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var set = SlotSet<Member>()
        var model: [Member] = []
        var outside: [Member] = (0..<300).map { Member(id: $0) }
        for _ in 0..<5000 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5 where !outside.isEmpty:
                let member = outside.remove(at: Int.random(in: 0..<outside.count, using: &random))
                set.insert(member)
                model.append(member)
            case 5..<9 where !model.isEmpty:
                let member = model.remove(at: Int.random(in: 0..<model.count, using: &random))
                let removed = set.remove(member)
                let removedAgain = set.remove(member)
                #expect(removed)
                #expect(!removedAgain, "a second leave finds nothing")
                outside.append(member)
            default:
                // A targeted lookup: who is in, who is not.
                if let member = model.randomElement(using: &random) { #expect(set.contains(member)) }
                if let stranger = outside.randomElement(using: &random) { #expect(!set.contains(stranger)) }
            }
            #expect(set.count == model.count)
        }
        #expect(Set(set.map(\.id)) == Set(model.map(\.id)))
        #expect(set.indices.allSatisfy { set[$0].slot == $0 }, "every element knows its slot")
        #expect(outside.allSatisfy { $0.slot == -1 })
    }

    @Test("a member of another set is not taken out of this one")
    func otherSet() {
        var first = SlotSet<Member>()
        var second = SlotSet<Member>()
        let a = Member(id: 1)
        let b = Member(id: 2)
        first.insert(a)
        second.insert(b)
        let strangerRemoved = first.remove(b)
        #expect(!strangerRemoved)
        #expect(first.count == 1 && second.count == 1)
        let bothRemoved = second.remove(b) && first.remove(a)
        #expect(bothRemoved)
        #expect(first.isEmpty && second.isEmpty)
    }
}
