// swift-tools-version: 6.1
import PackageDescription

// Dependencies, each with its reason:
// - swift-argument-parser: the `drip` executable's subcommands, help, and the generate-manual plugin behind scripts/man.
// - swift-nio (NIOCore, NIOPosix, NIOHTTP1): the embedded server and the client; event loops, HTTP/1.1
//   framing, and the socket options fault injection needs (TCP_NODELAY, SO_LINGER for resets).
// - swift-nio-ssl (NIOSSL): https in the client, with the system trust store or certificates given
//   explicitly; the one way to speak TLS on NIO without bringing a whole HTTP client.
// - swift-nio-http2 (NIOHTTP2): HTTP/2 on the server (`drip serve --tls` offers h2 by ALPN) and in the
//   client; framing, HPACK and flow control are NIO's, none written here.
// - swift-certificates (X509), swift-crypto (Crypto) and swift-asn1 (SwiftASN1, the IP addresses in it): the certificate `drip serve --tls` makes at
//   start (a P-256 key, a self-signed certificate for 127.0.0.1, ::1 and localhost) and its fingerprint.
// - hdrhistogram-swift (Histogram): drip load's latency histogram, written in its --json report so that
//   `drip load merge` combines the reports of several processes into true percentiles.
// Platforms: built and tested on Linux only (no macOS claim: nothing here builds or tests on macOS;
// the libc calls have Darwin branches, untested). DocC is built by scripts/docs with the toolchain's
// own docc, so no documentation plugin is a dependency.
let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let nioHTTP1 = Target.Dependency.product(name: "NIOHTTP1", package: "swift-nio")
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
let nioHTTP2 = Target.Dependency.product(name: "NIOHTTP2", package: "swift-nio-http2")

let package = Package(
    name: "drip",
    products: [
        .executable(name: "drip", targets: ["drip"]),
        .executable(name: "sse-contract-service", targets: ["sse-contract-service"]),
        // The libraries other Swift packages may use: the wire format, a reconnecting EventSource
        // client, and the SSE server (with ScriptClock, whose TimeScale their APIs take).
        .library(name: "EventStream", targets: ["EventStream"]),
        .library(name: "SSEClient", targets: ["SSEClient", "ScriptClock"]),
        .library(name: "SSEServer", targets: ["SSEServer", "ScriptClock"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // Wire format only: parser, encoder, event model. No I/O, no NIO.
        .target(name: "EventStream", dependencies: ["CSimpleBlocks"]),
        // The line forms' widest path, in C because Swift cannot compile one function for AVX-512
        // (VectorBlocks in EventStream chooses it at run time).
        .target(name: "CSimpleBlocks"),
        // How fast a workbench's clock runs (drip run --speed): shared by the server, the client and
        // the engine, and no part of the wire format.
        .target(name: "ScriptClock"),
        .target(
            name: "SSEServer",
            dependencies: [
                "EventStream", "ScriptClock", nioCore, nioPosix, nioHTTP1, nioSSL, nioHTTP2, .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]),
        .target(
            name: "SSEClient",
            dependencies: [
                "EventStream", "ScriptClock", nioCore, nioPosix, nioHTTP1, nioSSL, nioHTTP2, .product(name: "NIOTLS", package: "swift-nio"),
            ]),
        // drip load: many subscribers and a publisher, measuring delivery; over SSEClient's request
        // writer and response reader.
        .target(
            name: "SSELoad",
            dependencies: ["EventStream", "SSEClient", nioCore, nioPosix, nioSSL, .product(name: "Histogram", package: "hdrhistogram-swift")]),
        // drip proxy: a reverse proxy that relays event streams event by event; over SSEClient's
        // request writer, response reader and TLS options, and SSEServer's fault vocabulary.
        .target(
            name: "SSEProxy",
            dependencies: ["EventStream", "SSEClient", "SSEServer", nioCore, nioPosix, nioHTTP1, .product(name: "NIOSSL", package: "swift-nio-ssl")]),
        // drip check: grades another SSE server (as EventSource would see it) or client (from the
        // requests it makes); over SSEClient's request writer, response reader and TLS options.
        .target(
            name: "SSECheck",
            dependencies: ["EventStream", "SSEClient", nioCore, nioPosix, nioHTTP1, .product(name: "NIOSSL", package: "swift-nio-ssl")]),
        .target(
            name: "Workbench",
            dependencies: ["EventStream", "ScriptClock", "SSEServer", "SSEClient", "SSELoad", "SSEProxy", "SSECheck", "CMalloc", nioPosix]),
        // glibc's mallopt, for drip connect's read buffers (no library to link: it is libc's).
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(
            name: "CLibEdit",
            pkgConfig: "libedit",
            providers: [.apt(["libedit-dev"])]
        ),
        .target(name: "LineEditor", dependencies: ["CLibEdit"]),
        .executableTarget(
            name: "drip",
            dependencies: [
                "EventStream",
                "Workbench",
                "LineEditor",
                "SSEServer",
                "SSEClient",
                "SSEProxy",
                "SSECheck",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The test service of the public SSE contract-test harness, driving drip's client.
        .executableTarget(name: "sse-contract-service", dependencies: ["EventStream", "SSEClient", nioCore, nioPosix, nioHTTP1]),
        // Measures the parser alone for scripts/bench/decode; not shipped.
        .executableTarget(name: "drip-bench", dependencies: ["EventStream"], path: "Benchmarks/DecodeBenchmark"),
        // Measures a stream's subscriber set (join and leave at 1k to 100k) for scripts/bench/subscriber-set; not shipped.
        .executableTarget(name: "drip-bench-subscribers", dependencies: ["EventStream", "SSEServer"], path: "Benchmarks/SubscriberSetBenchmark"),

        .testTarget(name: "EventStreamTests", dependencies: ["EventStream", "ScriptClock", "TestSupport"]),
        .testTarget(name: "ScriptClockTests", dependencies: ["ScriptClock"]),
        // Helpers shared by the integration tests: raw sockets, a stream reader, log collection.
        .target(
            name: "TestSupport", dependencies: ["EventStream", "SSEServer", nioCore, nioPosix, .product(name: "NIOSSL", package: "swift-nio-ssl")],
            path: "Tests/TestSupport"),
        .testTarget(
            name: "SSEServerTests",
            dependencies: [
                "SSEServer", "SSEClient", "EventStream", "ScriptClock", "TestSupport", nioHTTP1,
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            exclude: ["Browser"]
        ),
        .testTarget(
            name: "SSEClientTests",
            dependencies: [
                "SSEClient", "SSEServer", "EventStream", "TestSupport", "sse-contract-service",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(name: "SSELoadTests", dependencies: ["SSELoad", "SSEClient", "TestSupport"]),
        .testTarget(
            name: "SSEProxyTests",
            dependencies: [
                "SSEProxy", "SSEServer", "SSEClient", "EventStream", "TestSupport", nioCore, .product(name: "NIOEmbedded", package: "swift-nio"),
            ]),
        .testTarget(name: "SSECheckTests", dependencies: ["SSECheck", "SSEServer", "SSEClient", "TestSupport"]),
        .testTarget(name: "WorkbenchTests", dependencies: ["Workbench", "TestSupport"], exclude: ["Snapshots"]),
        .testTarget(name: "LineEditorTests", dependencies: ["LineEditor"]),
        .testTarget(name: "dripTests", dependencies: ["drip"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
