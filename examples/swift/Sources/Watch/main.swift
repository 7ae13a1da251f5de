import EventStream
import SSEClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// watch URL [COUNT]: prints each event of the stream at URL as `type id: data`, reconnecting as a
// browser would, and exits after COUNT events (default: never) or when the server ends the stream for good.
let arguments = CommandLine.arguments.dropFirst()
guard let url = arguments.first else {
    print("usage: watch URL [COUNT]")
    exit(2)
}
let count = arguments.dropFirst().first.flatMap { Int($0) }
var seen = 0
do {
    for try await event in try EventSource(url: url).events {
        print("\(event.type) \(event.id ?? "-"): \(event.data)")
        seen += 1
        if let count, seen >= count { break }
    }
} catch {
    print("watch: \(error)")
    exit(1)
}
