// swift-tools-version: 6.1
import PackageDescription

// An example of using drip's libraries from another package: a watcher that prints the events of
// any SSE stream, built against the SSEClient product (by path, as a package in a monorepo would).
// scripts/test builds it and runs it against a `drip serve` it starts (Tests/e2e/swift-example.sh).
let package = Package(
    name: "watch-example",
    dependencies: [.package(name: "drip", path: "../..")],
    targets: [
        .executableTarget(
            name: "Watch",
            dependencies: [
                .product(name: "SSEClient", package: "drip"),
                .product(name: "EventStream", package: "drip"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
