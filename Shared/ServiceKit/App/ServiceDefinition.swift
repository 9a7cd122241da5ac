import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A middleware a service adds to its API router, over ServiceKit's request context.
public typealias ServiceMiddleware = any MiddlewareProtocol<Request, Response, FleetContext>

/// What a service hands to ServiceKit: its name, ports, peers, migrations, readiness checks,
/// middleware and routes. Everything else (configuration, servers, logs, metrics, probes,
/// shutdown) comes from ServiceKit.
///
/// The API router's middleware run in this order, outermost first (see docs/architecture.md):
/// ServiceKit's identity, observability, errors, limits (rate limit, request timeout) and background
/// deferral, then the definition's `middleware` in the order given, then a route group's own
/// middleware, then the route. A service's middleware therefore sees the request id and trace, is measured and
/// access-logged, and has its errors rendered like any handler's.
public struct ServiceDefinition: Sendable {
    /// Lower-case service name: logs, metrics, default database file.
    public var name: String
    /// The local API port (`PORT` overrides it).
    public var defaultPort: Int
    /// The local admin port (`ADMIN_PORT` overrides it).
    public var defaultAdminPort: Int
    /// The services this one calls: their `<NAME>_URL` is read and validated at start-up, and each
    /// required one is a readiness check.
    public var peers: [PeerDeclaration]
    /// Schema changes applied at start-up, before the API port opens.
    public var migrations: [Migration]
    /// Declares the routes, given the service's dependencies.
    public var routes: @Sendable (APIRouter, ServiceDependencies) throws -> Void
    /// Extra readiness checks beyond the built-in database, migrations, serving, peer and shutdown ones.
    public var readinessChecks: @Sendable (ServiceDependencies) -> [HealthCheck]
    /// The service's own middleware, inside ServiceKit's (see above).
    public var middleware: @Sendable (ServiceDependencies) -> [ServiceMiddleware]
    /// Long-running work of the service's own (a retry loop, a publisher), run in its
    /// `ServiceGroup` beside the servers: started with them, told to stop on SIGTERM.
    public var services: @Sendable (ServiceDependencies) -> [any Service] = { _ in [] }
    /// WebSocket endpoints on the API port (`/ws/orders`); none by default, and then the server
    /// is plain HTTP/1.1.
    public var webSockets: @Sendable (ServiceDependencies) throws -> [WebSocketRoute] = { _ in [] }
    /// Replaces the service's own `/openapi.json` with what the returned function makes of it,
    /// on each request (the gateway merges the fleet's documents into its own); nil serves the
    /// document generated from the routes.
    public var document: (@Sendable (ServiceDependencies) throws -> DocumentComposer)?
    /// Whether `Content-Encoding: gzip`/`deflate` request bodies are decoded before the routes
    /// (on by default, middleware.md). A proxy turns it off: an encoded body then passes through,
    /// header and bytes, to the service that reads it and decodes it against its own limit.
    public var decodesRequestBodies = true

    public init(
        name: String,
        defaultPort: Int,
        defaultAdminPort: Int,
        peers: [PeerDeclaration] = [],
        migrations: [Migration] = [],
        readinessChecks: @escaping @Sendable (ServiceDependencies) -> [HealthCheck] = { _ in [] },
        middleware: @escaping @Sendable (ServiceDependencies) -> [ServiceMiddleware] = { _ in [] },
        routes: @escaping @Sendable (APIRouter, ServiceDependencies) throws -> Void
    ) {
        self.name = name
        self.defaultPort = defaultPort
        self.defaultAdminPort = defaultAdminPort
        self.peers = peers
        self.migrations = migrations
        self.routes = routes
        self.readinessChecks = readinessChecks
        self.middleware = middleware
    }
}

/// Turns a service's generated OpenAPI document (JSON) into the one `/openapi.json` serves.
public typealias DocumentComposer = @Sendable (_ own: Data) async throws -> Data

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
    /// The service's declared peers, through its one HTTP client.
    public let peers: Peers
    /// Values the service's routes, WebSocket routes and services share, built once per runtime.
    public let shared: SharedValues
}

/// One value per type for the lifetime of a service's runtime: what its routes, WebSocket routes
/// and long-running services share (an event hub, a publisher), built by the first that asks.
public final class SharedValues: Sendable {
    private let values = Mutex<[ObjectIdentifier: any Sendable]>([:])

    public init() {}

    /// The value of type `T`, made by `make` on first use. `make` runs outside the lock, so it may
    /// ask for other shared values; of two first uses racing, the first stored wins.
    public func value<T: Sendable>(_ type: T.Type = T.self, _ make: () throws -> T) rethrows -> T {
        let key = ObjectIdentifier(type)
        if let value = values.withLock({ $0[key] }) as? T { return value }
        let made = try make()
        return values.withLock { values in
            if let value = values[key] as? T { return value }
            values[key] = made
            return made
        }
    }
}
