#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A byte source read in chunks: a file opened by path, or standard input.
///
/// `name` is how errors refer to it: the path, or `<stdin>`.
public struct InputFile: ~Copyable {
    public let name: String
    private let descriptor: Int32
    private let ownsDescriptor: Bool

    /// Opens `path`, or standard input when `path` is nil or `-`.
    public init(path: String?) throws(ToolError) {
        guard let path, path != "-" else {
            self.name = "<stdin>"
            self.descriptor = STDIN_FILENO
            self.ownsDescriptor = false
            return
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ToolError(.badInput, "\(path): \(String(cString: strerror(errno)))")
        }
        var status = stat()
        if fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR {
            close(descriptor)
            throw ToolError(.badInput, "\(path): is a directory")
        }
        self.name = path
        self.descriptor = descriptor
        self.ownsDescriptor = true
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// The most an `@FILE` value or a script may hold unless raised (`--max-file-size`): 16 MiB.
    public static let defaultSizeLimit = 16 << 20

    /// The whole contents of the file at `path` (or standard input for nil or `-`); more than
    /// `limit` bytes is an error naming the limit and `option`, which raises it.
    public static func contents(
        of path: String?, limit: Int = defaultSizeLimit, option: String = "--max-file-size"
    ) throws(ToolError) -> [UInt8] {
        var bytes: [UInt8] = []
        let input = try InputFile(path: path)
        try input.forEachChunk { (chunk) throws(ToolError) in
            guard bytes.count + chunk.count <= limit else {
                throw ToolError(.badInput, "\(input.name): larger than the limit of \(ByteSize(bytes: limit)) (raise it with \(option))")
            }
            bytes.append(contentsOf: chunk)
        }
        return bytes
    }

    /// Calls `body` with each chunk read until end of input.
    public func forEachChunk(size: Int = 64 << 10, _ body: (UnsafeRawBufferPointer) throws(ToolError) -> Void) throws(ToolError) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress, size)
            if count == 0 { return }
            if count < 0 {
                if errno == EINTR { continue }
                throw ToolError(.ioFailure, "\(name): read failed: \(String(cString: strerror(errno)))")
            }
            try body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    }
}

/// Buffered writing to a file descriptor, flushed when the buffer fills and on `flush()`.
public struct OutputWriter: ~Copyable {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private let capacity: Int

    public init(descriptor: Int32 = STDOUT_FILENO, capacity: Int = 64 << 10) {
        self.descriptor = descriptor
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
    }

    /// Appends bytes through `body`, writing out when the buffer is full.
    public mutating func write(_ body: (inout [UInt8]) -> Void) throws(ToolError) {
        body(&buffer)
        if buffer.count >= capacity { try flush() }
    }

    /// Appends `bytes`; a large block goes out directly after what is buffered, without a copy.
    public mutating func write(contentsOf bytes: [UInt8]) throws(ToolError) {
        guard bytes.count >= capacity / 2 else { return try write { $0.append(contentsOf: bytes) } }
        try flush()
        try Self.write(bytes, to: descriptor)
    }

    public mutating func flush() throws(ToolError) {
        try Self.write(buffer, to: descriptor)
        buffer.removeAll(keepingCapacity: true)
    }

    private static func write(_ buffer: [UInt8], to descriptor: Int32) throws(ToolError) {
        var written = 0
        while written < buffer.count {
            let result = buffer.withUnsafeBytes { bytes in
                bytes.baseAddress.map { posixWrite(descriptor, $0 + written, bytes.count - written) } ?? 0
            }
            if result < 0 {
                let code = errno
                if code == EINTR { continue }
                var error = ToolError(.ioFailure, "write failed: \(String(cString: strerror(code)))")
                error.readerLeft = code == EPIPE
                throw error
            }
            written += result
        }
    }
}

/// A failure of a one-shot tool (`decode`, `encode`), with the exit status it calls for.
public struct ToolError: Error, Sendable, CustomStringConvertible {
    /// Exit statuses: 2 for input the user must fix, 1 for the system failing to read or write.
    public enum Kind: Int32, Sendable {
        case ioFailure = 1
        case badInput = 2
    }

    public var kind: Kind
    public var message: String
    /// The output was a pipe whose reader went away (`drip connect … | head -1`): time to stop, quietly.
    public var readerLeft = false

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
