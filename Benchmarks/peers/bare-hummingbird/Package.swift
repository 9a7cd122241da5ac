// swift-tools-version:6.0
// The bare Hummingbird 2 peer for `make bench`: the same three endpoints, Codable, no middleware.
// A package of its own so that `make test` never builds it.
import PackageDescription

let package = Package(
    name: "BareHummingbird",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        .executableTarget(
            name: "bench-hummingbird",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "Sources/BareHummingbird"
        ),
    ],
    swiftLanguageModes: [.v6]
)
