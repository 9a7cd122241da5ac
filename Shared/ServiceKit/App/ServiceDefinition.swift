import Logging

/// What a service hands to ServiceKit: its name, ports, migrations, readiness checks and routes.
/// Everything else (configuration, servers, logs, metrics, probes, shutdown) comes from ServiceKit.
public struct ServiceDefinition: Sendable {
    /// Lower-case service name: logs, metrics, default database file.
    public var name: String
    /// The local API port (`PORT` overrides it).
    public var defaultPort: Int
    /// The local admin port (`ADMIN_PORT` overrides it).
    public var defaultAdminPort: Int
    /// Schema changes applied at start-up, before the API port opens.
    public var migrations: [Migration]
    /// Declares the routes, given the service's dependencies.
    public var routes: @Sendable (APIRouter, ServiceDependencies) throws -> Void
    /// Extra readiness checks beyond the built-in database, migrations and shutdown ones.
    public var readinessChecks: @Sendable (ServiceDependencies) -> [HealthCheck]

    public init(
        name: String,
        defaultPort: Int,
        defaultAdminPort: Int,
        migrations: [Migration] = [],
        readinessChecks: @escaping @Sendable (ServiceDependencies) -> [HealthCheck] = { _ in [] },
        routes: @escaping @Sendable (APIRouter, ServiceDependencies) throws -> Void
    ) {
        self.name = name
        self.defaultPort = defaultPort
        self.defaultAdminPort = defaultAdminPort
        self.migrations = migrations
        self.routes = routes
        self.readinessChecks = readinessChecks
    }
}

/// The values a service's routes may depend on, passed in rather than reached through globals.
public struct ServiceDependencies: Sendable {
    /// The validated configuration.
    public let configuration: ServiceConfiguration
    /// The service's database.
    public let database: Database
    /// The service's root logger.
    public let logger: Logger
    /// Work to run after responses.
    public let background: BackgroundTasks
    /// The metrics registry, for service-specific metrics.
    public let metrics: ServiceMetrics
    /// The service's peers, through its one HTTP client.
    public let peers: Peers
}
