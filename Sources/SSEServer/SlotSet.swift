/// An element that remembers where it is in the one `SlotSet` holding it.
package protocol Slotted: AnyObject {
    /// Its index in the set's storage; -1 while in no set.
    var slot: Int { get set }
}

/// The subscribers of one stream: joining and leaving are O(1), whatever the count (a leave moves the
/// last element into the hole), and the elements are one contiguous array for a fan-out pass.
///
/// Invariants: `elements[i].slot == i` for every i; an element is in at most one set; order is not
/// kept (a leave moves the last element), so a listing sorts by what it shows.
package struct SlotSet<Element: Slotted>: RandomAccessCollection {
    package private(set) var elements: [Element] = []

    package init() {}

    package var startIndex: Int { 0 }
    package var endIndex: Int { elements.count }
    package subscript(position: Int) -> Element { elements[position] }

    package mutating func insert(_ element: Element) {
        precondition(element.slot < 0, "an element joins one set once")
        element.slot = elements.count
        elements.append(element)
    }

    /// Takes `element` out; false when it is not in this set.
    @discardableResult
    package mutating func remove(_ element: Element) -> Bool {
        let slot = element.slot
        guard slot >= 0, slot < elements.count, elements[slot] === element else { return false }
        let last = elements.removeLast()
        if last !== element {
            elements[slot] = last
            last.slot = slot
        }
        element.slot = -1
        return true
    }

    package func contains(_ element: Element) -> Bool {
        element.slot >= 0 && element.slot < elements.count && elements[element.slot] === element
    }

    /// Gives up the storage's spare capacity (after a burst of subscribers has left).
    package mutating func shrink() {
        if elements.isEmpty { elements = [] }
    }
}
