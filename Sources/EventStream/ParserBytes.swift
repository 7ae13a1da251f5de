#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Small byte-buffer moves the parser makes many times per chunk, apart from its rules.
enum ParserBytes {
    /// Copies `text` to `output` and returns the end of the copy (the line forms' fixed parts).
    @inline(__always)
    static func copy(_ text: StaticString, to output: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        memcpy(output, text.utf8Start, text.utf8CodeUnitCount)
        return output + text.utf8CodeUnitCount
    }

    /// `borrowed` when there is one, else the bytes of `owned` (without touching an empty array).
    @inline(__always)
    static func withBytes(
        _ borrowed: UnsafeBufferPointer<UInt8>?, else owned: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        if let borrowed {
            body(borrowed)
        } else if owned.isEmpty {
            body(UnsafeBufferPointer(start: nil, count: 0))
        } else {
            owned.withUnsafeBufferPointer(body)
        }
    }

    @inline(__always)
    static func replace(_ buffer: inout [UInt8], with bytes: UnsafeBufferPointer<UInt8>) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: bytes)
    }

    static func utf8(of string: inout String, equals bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        string.withUTF8 { utf8 in
            guard utf8.count == bytes.count else { return false }
            guard let left = utf8.baseAddress, let right = bytes.baseAddress else { return true }
            return memcmp(left, right, utf8.count) == 0
        }
    }

    static func text<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
