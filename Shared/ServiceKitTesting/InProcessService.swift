import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceKit

/// A service built in-process for tests: its runtime, a temporary data folder, and Hummingbird's
/// test frameworks over its API and admin routers (`.router` without a socket, `.live` with one).
public struct InProcessService: Sendable {
    /// The assembled service.
    public let runtime: ServiceRuntime
    /// Its temporary data folder, removed by `close()`.
    public let directory: String

    /// Builds `definition` on `database` (a temporary SQLite file when nil).
    public static func make(
        _ definition: ServiceDefinition,
        database: DatabaseURL? = nil,
        logHandler: (@Sendable (String) -> any LogHandler)? = nil,
        configure: (inout ServiceConfiguration) -> Void = { _ in }
    ) throws -> InProcessService {
        let directory = try TemporaryDirectory.make(prefix: definition.name)
        var configuration = ServiceConfiguration.testing(
            service: definition.name,
            database: database ?? .sqlite(path: directory + "/\(definition.name).db"),
            dataDirectory: directory
        )
        configure(&configuration)
        let levels = LogLevels(root: configuration.logLevel)
        let logger = Logger(label: definition.name, factory: logHandler ?? { _ in SwiftLogNoOpLogHandler() })
        let runtime = try ServiceRuntime(definition: definition, configuration: configuration, logger: logger, logLevels: levels)
        return InProcessService(runtime: runtime, directory: directory)
    }

    /// Applies the service's migrations and marks it serving (the test frameworks serve its
    /// router), so readiness passes afterwards. System tests prove the real bind.
    public func migrate() async throws {
        try await runtime.migrate()
        runtime.probes.markServing()
    }

    /// Runs `test` against the API router: in-process without a socket (`.router`, the default) or
    /// through a real server on a loopback port (`.live`), with dependencies replaced by `overrides`.
    public func api<Value: Sendable>(
        _ framework: TestingSetup = .router, overrides: DependencyOverrides = DependencyOverrides(),
        _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        let app = Application(router: try runtime.makeAPIRouter(overrides: overrides), logger: runtime.logger)
        return try await app.test(framework, test)
    }

    /// Runs `test` against the admin router without a socket.
    public func admin<Value: Sendable>(_ test: @escaping @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let app = Application(router: runtime.makeAdminRouter(), logger: runtime.logger)
        return try await app.test(.router, test)
    }

    /// Stops the peer client, closes the database and removes the data folder.
    public func close() async {
        await runtime.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `body` with a migrated service and closes it afterwards, also when `body` throws.
    public static func with<Value>(
        _ definition: ServiceDefinition,
        database: DatabaseURL? = nil,
        logHandler: (@Sendable (String) -> any LogHandler)? = nil,
        configure: (inout ServiceConfiguration) -> Void = { _ in },
        _ body: (InProcessService) async throws -> Value
    ) async throws -> Value {
        let service = try make(definition, database: database, logHandler: logHandler, configure: configure)
        do {
            try await service.migrate()
            let value = try await body(service)
            await service.close()
            return value
        } catch {
            await service.close()
            throw error
        }
    }
}
