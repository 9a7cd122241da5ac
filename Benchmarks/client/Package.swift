// swift-tools-version:6.1
// `make bench`'s client comparison: CurlHTTP against AsyncHTTPClient on the same loopback server.
// A package of its own so that `make test` never builds it (nor AsyncHTTPClient and BoringSSL).
import PackageDescription

let package = Package(
    name: "ClientBench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        .executableTarget(
            name: "client-bench",
            dependencies: [
                .product(name: "CurlHTTP", package: "main"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Sources/ClientBench"
        ),
    ],
    swiftLanguageModes: [.v6]
)
