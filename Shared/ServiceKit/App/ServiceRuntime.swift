import CurlHTTP
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// One service assembled: its dependencies, routers and long-running parts. `ServiceMain` runs it
/// as a process; tests build it in-process and drive its routers directly.
public final class ServiceRuntime: Sendable {
    /// What the service declared.
    public let definition: ServiceDefinition
    /// The validated configuration.
    public let configuration: ServiceConfiguration
    /// The service's root logger; request loggers derive from it.
    public let logger: Logger
    /// Run-time log levels, shared with `/loggers`.
    public let logLevels: LogLevels
    /// The Prometheus registry and ServiceKit's own metrics.
    public let metrics: ServiceMetrics
    /// Readiness and liveness.
    public let probes: Probes
    /// The service's database pool.
    public let database: Database
    /// Work run after responses.
    public let background: BackgroundTasks
    /// Every route declared on the API router.
    public let routes = RouteTable()
    /// The peers, called through one CurlHTTP client whose metrics join the service's registry.
    public let peers: Peers
    /// What the definition's closures share (`ServiceDependencies.shared`).
    public let shared = SharedValues()
    /// Opens the database and registers the readiness checks; nothing runs until `makeServices()`.
    public init(definition: ServiceDefinition, configuration: ServiceConfiguration, logger: Logger, logLevels: LogLevels) throws {
        self.definition = definition
        self.configuration = configuration
        self.logger = logger
        self.logLevels = logLevels
        self.metrics = ServiceMetrics(build: configuration.build)
        self.probes = Probes()
        self.database = try Database.open(configuration.database, logger: logger)
        self.background = BackgroundTasks(logger: logger, registry: metrics.registry, limits: configuration.background)
        var client = ClientConfiguration()
        client.timeout = configuration.peerTimeout
        client.logger = logger
        client.metricsFactory = DocumentedMetricsFactory(registry: metrics.registry, help: ClientMetrics.help)
        client.threadName = "curl-\(definition.name)"
        self.peers = Peers(client: CurlClient(configuration: client), urls: configuration.peers)
        let database = self.database
        probes.register(HealthCheck("database") { try await database.ping() })
        for declared in definition.peers where declared.required {
            probes.register(Self.reachability(of: declared, peers: peers))
        }
        for check in definition.readinessChecks(dependencies) { probes.register(check) }
    }

    /// Closes the database pool and stops the peer client, for a runtime that never ran.
    public func close() async {
        await peers.client.shutdown()
        try? await database.close()
    }

    /// A required peer's check (`peer:catalog`): any HTTP answer from it passes; no answer, a
    /// refused connection or an open circuit fails.
    static func reachability(of declared: PeerDeclaration, peers: Peers) -> HealthCheck {
        HealthCheck("peer:\(declared.name)") {
            let peer = try peers.peer(declared.name)
            var request = peer.request(.head, declared.readinessPath)
            request.timeout = .seconds(1)
            _ = try await peer.execute(request).body.collect(upTo: 1 << 16)
        }
    }

    /// What routes receive.
    public var dependencies: ServiceDependencies {
        ServiceDependencies(configuration: configuration, database: database, logger: logger, background: background, metrics: metrics, peers: peers, shared: shared)
    }

    /// Applies pending migrations, then opens readiness.
    public func migrate() async throws {
        try await MigrationRunner(database: database, logger: logger).run(definition.migrations)
        probes.markMigrated()
    }

    /// The API router: the service's routes behind identity, observability and error middleware.
    public func makeAPIRouter(overrides: DependencyOverrides = DependencyOverrides()) throws -> Router<FleetContext> {
        let router = Router(context: FleetContext.self, options: [.autoGenerateHeadEndpoints])
        // The order is the contract written in docs/middleware.md, outermost first: identity and
        // observability see every answer; security headers, CORS and compression shape every
        // answer, errors included; the error middleware renders what the layers inside it throw.
        let http = configuration.http
        router.add(middleware: RequestIdentityMiddleware<FleetContext>(
            maxBodyBytes: configuration.maxBodyBytes, maxUploadBytes: configuration.maxUploadBytes,
            uploadSpoolBytes: configuration.uploadSpoolBytes, requestTimeout: configuration.requestTimeout))
        router.add(middleware: ObservabilityMiddleware<FleetContext>(metrics: metrics, accessLog: configuration.accessLog))
        if let headers = http.securityHeaders {
            router.add(middleware: SecurityHeadersMiddleware<FleetContext>(policy: headers, trustedProxies: configuration.trustedProxies))
        }
        if let cors = http.cors { router.add(middleware: CORSPolicyMiddleware<FleetContext>(policy: cors)) }
        if http.compression { router.add(middleware: CompressionMiddleware<FleetContext>(minimumBytes: http.compressionMinBytes)) }
        router.add(middleware: ErrorMiddleware<FleetContext>(routes: routes))
        let rules = RateLimitRules(default: configuration.rateLimit, routes: http.rateLimitRoutes)
        if !rules.isEmpty {
            router.add(middleware: RateLimitMiddleware<FleetContext>(
                rules: rules, maxClients: http.rateLimitClients, trustedProxies: configuration.trustedProxies, registry: metrics.registry))
        }
        if definition.decodesRequestBodies { router.add(middleware: RequestDecompressionMiddleware<FleetContext>()) }
        if let timeout = configuration.requestTimeout {
            router.add(middleware: RequestTimeoutMiddleware<FleetContext>(timeout: timeout))
        }
        // Inside the error middleware: a handler that throws drops the tasks it submitted.
        router.add(middleware: BackgroundDeferralMiddleware<FleetContext>(tasks: background))
        for layer in definition.middleware(dependencies) { router.add(middleware: layer) }
        let api = APIRouter(router: router, table: routes, overrides: overrides)
        api.provide(database)
        api.provide(configuration)
        api.provide(background)
        api.provide(peers)
        DocsRoutes.register(
            api, title: configuration.serviceName, version: configuration.build.version, assets: configuration.docsAssets,
            compose: try definition.document?(dependencies))
        try definition.routes(api, dependencies)
        let problems = routes.problems
        if !problems.isEmpty { throw RouteDeclarationError(problems: problems) }
        return router
    }

    /// The admin router: probes, metrics, info, loggers, runtime figures.
    public func makeAdminRouter() -> Router<FleetContext> {
        let router = Router(context: FleetContext.self, options: [.autoGenerateHeadEndpoints])
        let table = RouteTable()
        router.add(middleware: RequestIdentityMiddleware<FleetContext>(maxBodyBytes: 64 * 1024, maxUploadBytes: 64 * 1024))
        router.add(middleware: ErrorMiddleware<FleetContext>(routes: table))
        AdminRoutes(runtime: self).register(APIRouter(router: router, table: table))
        return router
    }

    /// Every long-running part in start order; `ServiceGroup` stops them in reverse: first the
    /// shutdown delay (readiness fails at once), then the API server drains, then background tasks,
    /// the admin server, the peer client (once nothing can call a peer) and finally the database.
    ///
    /// Each is named here: without a name, swift-service-lifecycle names a service by printing it,
    /// which reflects over every stored property and looks up protocol conformances for each of
    /// their types; that was 8% of a service's start-up CPU.
    public func makeServices() throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let probes = self.probes
        let sockets = try definition.webSockets(dependencies)
        let deadlines = ReadDeadlines(header: configuration.http.headerTimeout, body: configuration.http.bodyTimeout, registry: metrics.registry)
        let api = Application(
            router: try makeAPIRouter(),
            server: sockets.isEmpty
                ? Self.guarded(deadlines)
                : Self.upgrading(to: sockets, pingInterval: configuration.webSocketPingInterval, sendBuffer: configuration.webSocketSendBuffer, deadlines: deadlines),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: configuration.serviceName),
            onServerRunning: { _ in probes.markServing() },
            logger: logger
        )
        let admin = Application(
            router: makeAdminRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.adminPort), serverName: "\(configuration.serviceName)-admin"),
            logger: logger
        )
        let own = definition.services(dependencies).enumerated().map { index, service in
            ServiceGroupConfiguration.ServiceConfiguration(service: service, serviceName: "\(definition.name)-\(index)")
        }
        return [
            .init(service: DatabaseCloser(database: database, logger: logger), serviceName: "database"),
            .init(service: peers.client, serviceName: "peer-client"),
            .init(service: admin, serviceName: "admin-server"),
            .init(service: background, serviceName: "background-tasks"),
            .init(service: MigratingServer(runtime: self, server: api), serviceName: "api-server"),
            .init(service: ShutdownDelay(probes: probes, delay: configuration.shutdownDelay, logger: logger), serviceName: "shutdown-delay"),
        ] + own
    }
}

extension ServiceRuntime {
    /// An HTTP/1.1 server whose clients must send their requests within `deadlines`.
    static func guarded(_ deadlines: ReadDeadlines) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            SlowClientGuard(inner: HTTP1Channel(responder: responder, configuration: .init(additionalChannelHandlers: [ReadPhaseHandler()])), limits: deadlines)
        }
    }

    /// An HTTP/1.1 server that upgrades `GET`s to the declared WebSocket paths, its HTTP requests
    /// under `deadlines`.
    static func upgrading(to sockets: [WebSocketRoute], pingInterval: Duration, sendBuffer: Int?, deadlines: ReadDeadlines) -> HTTPServerBuilder {
        let routes = Dictionary(sockets.map { (Substring($0.path), $0) }, uniquingKeysWith: { first, _ in first })
        let configuration = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(additionalChannelHandlers: [ReadPhaseHandler()]),
            ws: .init(maxFrameSize: 1 << 14, autoPing: .enabled(timePeriod: pingInterval)))
        return HTTPServerBuilder { responder in
            let channel = HTTP1WebSocketUpgradeChannel(responder: responder, configuration: configuration) { request, channel, _ in
                guard request.method == .get, let route = routes[WebSocketRoute.path(of: request)] else { return .dontUpgrade }
                if let sendBuffer {
                    try await channel.setOption(ChannelOptions.socketOption(.so_sndbuf), value: SocketOptionValue(sendBuffer)).get()
                }
                return .upgrade([:]) { inbound, outbound, context in
                    try await route.handler(request, inbound, outbound, context.logger)
                }
            }
            return SlowClientGuard(inner: channel, limits: deadlines)
        }
    }
}

/// Closes the database pool last, once everything that queries it has stopped.
struct DatabaseCloser: Service {
    let database: Database
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        do {
            try await database.close()
        } catch {
            logger.warning("closing the database failed", metadata: ["error": .string(String(describing: error))])
        }
    }
}

/// Applies migrations (retrying while the database is unreachable), then serves the API.
/// The API port opens only once the schema is current.
struct MigratingServer: Service {
    let runtime: ServiceRuntime
    let server: Application<RouterResponder<FleetContext>>

    func run() async throws {
        var attempt = 0
        while true {
            do {
                try await runtime.migrate()
                break
            } catch {
                attempt += 1
                // Only an unreachable database is worth waiting for; a broken migration is not.
                let reachable = (try? await runtime.database.ping()) != nil
                if reachable || attempt >= 30 || Task.isCancelled || runtime.probes.isShuttingDown { throw error }
                runtime.logger.warning("migrations failed; retrying", metadata: ["error": .string(String(describing: error)), "attempt": .stringConvertible(attempt)])
                try await Task.sleep(for: .seconds(min(5, attempt)))
            }
        }
        if runtime.probes.isShuttingDown { return }
        try await server.run()
    }
}

/// On SIGTERM: readiness fails at once, then the servers keep serving for `SHUTDOWN_DELAY` so the
/// cluster stops routing here before the API server stops accepting.
struct ShutdownDelay: Service {
    let probes: Probes
    let delay: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        probes.beginShutdown()
        logger.info("shutdown started", metadata: ["delay_s": .stringConvertible(delay.seconds)])
        if delay > .zero {
            try? await Task.sleep(for: delay)
        }
    }
}

/// Routes declared in a way that cannot serve (a `Path` model field missing from its template):
/// the service does not start, and the message names every such route.
public struct RouteDeclarationError: Error, CustomStringConvertible {
    /// One line per route at fault.
    public let problems: [String]

    /// All problems on one line, as the start-up failure logs it.
    public var description: String { "invalid route declarations: " + problems.joined(separator: "; ") }
}
