#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file written whole: to a temporary name beside it (`PATH.part`), then renamed over it, so a
/// reader never sees half of it — a capture being rewritten, a report, a timeline.
enum WholeFile {
    /// Writes `text` to `path`; nil, or why it could not (the temporary file is removed then).
    static func write(_ text: String, to path: String) -> String? {
        let temporary = path + ".part"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return String(cString: strerror(errno)) }
        let failure = Recorder.writeAll(Array(text.utf8), to: descriptor)
        close(descriptor)
        if let failure {
            unlink(temporary)
            return failure
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            return reason
        }
        return nil
    }
}
