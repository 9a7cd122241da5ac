// swift-tools-version:6.0
// The bare Hummingbird 2 peer for `make bench`: the same three endpoints, Codable, no middleware.
// A package of its own so that `make test` never builds it.
import PackageDescription

/// Linked as the Fleet services are (`serviceLinking` in the root Package.swift): lld with packed
/// relative relocations. bench.sh also builds it with `--static-swift-stdlib`, as it builds them,
/// so every Swift system in the benchmark is built the same way.
let serviceLinking: [LinkerSetting] = [
    .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux])),
]

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
            path: "Sources/BareHummingbird",
            linkerSettings: serviceLinking
        ),
    ],
    swiftLanguageModes: [.v6]
)
