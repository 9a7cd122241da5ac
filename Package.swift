// swift-tools-version:6.1
// Fleet: the framework (ServiceKit), the HTTP client (CurlHTTP), the services and their tests.
import CompilerPluginSupport
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// Service executables link with lld and packed relative relocations (DT_RELR, glibc 2.36+, so
/// Debian 12 or newer at run time). The dynamic loader then reads a 14 KB table instead of 1.6 MB
/// of RELA entries at every exec: ~1.8 MiB less resident memory per service (Benchmarks/NOTES.md).
let serviceLinking: [LinkerSetting] = [
    .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux])),
]

let package = Package(
    name: "Fleet",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ServiceKit", targets: ["ServiceKit"]),
        .library(name: "ServiceKitTesting", targets: ["ServiceKitTesting"]),
        .library(name: "CurlHTTP", targets: ["CurlHTTP"]),
        .library(name: "Catalog", targets: ["Catalog"]),
        .executable(name: "catalog", targets: ["CatalogServer"]),
        .library(name: "Users", targets: ["Users"]),
        .executable(name: "users", targets: ["UsersServer"]),
        .library(name: "Orders", targets: ["Orders"]),
        .executable(name: "orders", targets: ["OrdersServer"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        .executable(name: "gateway", targets: ["GatewayServer"]),
        .executable(name: "bench-servicekit", targets: ["BenchServiceKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit", from: "2.17.0"),
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/swiftlang/swift-syntax", from: "603.0.1"),
        // The ExternalLoading trait (on by default) is only for loading remote documents and slows the build.
        .package(url: "https://github.com/mattpolzin/OpenAPIKit", from: "6.4.0", traits: []),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "4.1.0"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.0"),
    ],
    targets: [
        // libcurl's headers at build time (libcurl4-openssl-dev); the library itself is loaded
        // with dlopen on the first peer call, so services that call no peer never map it.
        .target(
            name: "CCurl",
            path: "Shared/CCurl",
            linkerSettings: [.linkedLibrary("dl")]
        ),
        .target(
            name: "CurlHTTP",
            dependencies: [
                "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ],
            path: "Shared/CurlHTTP",
            swiftSettings: strict
        ),
        .macro(
            name: "ServiceKitMacros",
            dependencies: [
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
                .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
                .product(name: "SwiftDiagnostics", package: "swift-syntax"),
            ],
            path: "Shared/ServiceKitMacros",
            swiftSettings: strict
        ),
        // Stamps ServiceKit with the git revision at every build (/info, build_info): Plugins/BuildStamp.
        .plugin(name: "BuildStamp", capability: .buildTool(), path: "Plugins/BuildStamp"),
        .target(
            name: "ServiceKit",
            dependencies: [
                "ServiceKitMacros",
                "CurlHTTP",
                .product(name: "OpenAPIKit", package: "OpenAPIKit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            path: "Shared/ServiceKit",
            swiftSettings: strict,
            plugins: ["BuildStamp"]
        ),
        .target(
            name: "ServiceKitTesting",
            dependencies: [
                "ServiceKit",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            path: "Shared/ServiceKitTesting",
            swiftSettings: strict
        ),
        .target(
            name: "Catalog",
            dependencies: ["ServiceKit"],
            path: "Services/Catalog/Library",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "CatalogServer",
            dependencies: ["Catalog", "ServiceKit"],
            path: "Services/Catalog/Executable",
            swiftSettings: strict,
            linkerSettings: serviceLinking
        ),
        .target(
            name: "Users",
            dependencies: [
                "ServiceKit",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            path: "Services/Users/Library",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "UsersServer",
            dependencies: ["Users", "ServiceKit"],
            path: "Services/Users/Executable",
            swiftSettings: strict,
            linkerSettings: serviceLinking
        ),
        .target(
            name: "Orders",
            dependencies: [
                "ServiceKit", "Catalog",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Services/Orders/Library",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "OrdersServer",
            dependencies: ["Orders", "ServiceKit"],
            path: "Services/Orders/Executable",
            swiftSettings: strict,
            linkerSettings: serviceLinking
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "ServiceKit", "CurlHTTP", "Users", "Catalog", "Orders",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Services/Gateway/Library",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "GatewayServer",
            dependencies: ["Gateway", "ServiceKit"],
            path: "Services/Gateway/Executable",
            swiftSettings: strict,
            linkerSettings: serviceLinking
        ),
        .executableTarget(
            name: "BenchServiceKit",
            dependencies: ["ServiceKit"],
            path: "Benchmarks/ServiceKitBench",
            swiftSettings: strict,
            linkerSettings: serviceLinking
        ),
        .testTarget(
            name: "ServiceKitTests",
            dependencies: [
                "ServiceKit", "ServiceKitTesting", .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Tests/ServiceKitTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "CurlHTTPTests",
            dependencies: [
                "CurlHTTP",
                "ServiceKitTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ],
            path: "Tests/CurlHTTPTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ServiceKitMacrosTests",
            dependencies: [
                "ServiceKitMacros",
                .product(name: "SwiftSyntaxMacrosGenericTestSupport", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacroExpansion", package: "swift-syntax"),
            ],
            path: "Tests/ServiceKitMacrosTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "CatalogTests",
            dependencies: ["Catalog", "ServiceKit", "ServiceKitTesting"],
            path: "Tests/CatalogTests",
            swiftSettings: strict
        ),
        // Test support that starts fleet services by name, so it cannot live in Shared/.
        .target(
            name: "FleetTestSupport",
            dependencies: ["ServiceKitTesting", .product(name: "HTTPTypes", package: "swift-http-types")],
            path: "Tests/FleetTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: ["Gateway"],
            path: "Tests/GatewayTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "OrdersTests",
            dependencies: ["Orders", "Catalog", "ServiceKit", "ServiceKitTesting", .product(name: "Prometheus", package: "swift-prometheus")],
            path: "Tests/OrdersTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "UsersTests",
            dependencies: ["Users", "ServiceKit", "ServiceKitTesting", .product(name: "JWTKit", package: "jwt-kit")],
            path: "Tests/UsersTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SystemTests",
            dependencies: [
                "ServiceKitTesting", "FleetTestSupport", .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            path: "Tests/SystemTests",
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
