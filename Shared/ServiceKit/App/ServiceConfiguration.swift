import Foundation
import Logging

/// Everything a service reads from its environment at start-up, validated once.
///
/// A bad value throws `ConfigurationError`; `ServiceMain` turns that into exit code 2 and one line
/// on stderr, so a misconfigured pod fails fast and says why.
public struct ServiceConfiguration: Sendable {
    /// The service's lower-case name (`catalog`), used in logs, metrics and the default database file.
    public var serviceName: String
    /// Address the API and admin servers bind (`HOST`, default 127.0.0.1; containers set 0.0.0.0).
    public var host: String
    /// API port (`PORT`).
    public var port: Int
    /// Admin port (`ADMIN_PORT`): probes, metrics, loggers, info. Never exposed outside the cluster.
    public var adminPort: Int
    /// `DATABASE_URL`, default `sqlite:///.data/<service>.db`.
    public var database: DatabaseURL
    /// `LOG_LEVEL`, default info.
    public var logLevel: Logger.Level
    /// `ACCESS_LOG`, default true: one `request` line per request at info.
    public var accessLog: Bool = true
    /// `SHUTDOWN_DELAY`: how long the server keeps serving after SIGTERM while readiness is 503.
    public var shutdownDelay: Duration
    /// `SHUTDOWN_TIMEOUT`: the most that draining in-flight requests and tasks may take.
    public var shutdownTimeout: Duration
    /// `REQUEST_TIMEOUT`: a request still running after this answers 504 (unset: no limit).
    public var requestTimeout: Duration?
    /// `MAX_BODY_BYTES`, default 1 MiB: the largest JSON or form body.
    public var maxBodyBytes: Int
    /// `MAX_UPLOAD_BYTES`, default 10 MiB: the largest multipart upload.
    public var maxUploadBytes: Int
    /// `UPLOAD_SPOOL_BYTES`, default 1 MiB: uploaded files larger than this are streamed to a
    /// temporary file instead of kept in memory.
    public var uploadSpoolBytes: Int = 1 << 20
    /// `PEER_TIMEOUT`, default 5s: the budget of one call to a peer service.
    public var peerTimeout: Duration
    /// `DATA_DIR`, default `.data`: where uploads and SQLite files live.
    public var dataDirectory: String
    /// Base URLs of the peers the definition declares, by name, from `<NAME>_URL`.
    public var peers: [String: URL]
    /// `RATE_LIMIT_RPS` / `RATE_LIMIT_BURST`; nil when unset (no limit).
    public var rateLimit: RateLimit?
    /// Where `/docs` and `/redoc` load their scripts and styles from (`DOCS_*_URL`; a CDN by default).
    public var docsAssets = DocsAssets()
    /// `BACKGROUND_QUEUE_SIZE`, `BACKGROUND_CONCURRENCY`, `BACKGROUND_TIMEOUT`: the bounds of
    /// background tasks.
    public var background = BackgroundTasks.Limits()
    /// `WEBSOCKET_PING_INTERVAL`, default 30s: how often the server pings each WebSocket client;
    /// a client that has not answered the last ping by the next one is closed (1001), so a
    /// vanished peer does not hold a connection and its buffer for ever.
    public var webSocketPingInterval: Duration = .seconds(30)
    /// `WEBSOCKET_SEND_BUFFER`, bytes, unset by default: the kernel send buffer of each upgraded
    /// connection. Unset, Linux grows it up to `net.ipv4.tcp_wmem`'s maximum (4 MiB), which a
    /// client that stops reading holds; set, it bounds that memory and makes such a client push
    /// back, and be cut off, sooner.
    public var webSocketSendBuffer: Int?
    /// `TRUSTED_PROXIES`, loopback by default: whose `X-Forwarded-For` names the client.
    public var trustedProxies = TrustedProxies.loopback
    /// The API port's middleware kit: CORS, compression, security headers, per-route rate
    /// limits, read deadlines (docs/middleware.md).
    public var http = HTTPSettings()
    /// How access tokens are checked (`JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_LEEWAY`, `JWKS_REFETCH_INTERVAL`).
    public var tokens = TokenSettings()
    /// Version, revision and build date reported by `/info` and `build_info`.
    public var build: BuildInfo
    /// The variables this service read, for `/info` (secrets masked there).
    public var environment: [String: String]

    /// Requests per second and burst for the API port's token bucket.
    public struct RateLimit: Sendable, Equatable {
        public var requestsPerSecond: Double
        public var burst: Int

        public init(requestsPerSecond: Double, burst: Int) {
            self.requestsPerSecond = requestsPerSecond
            self.burst = burst
        }
    }

    /// What every service checks in a bearer token, and how often it may refetch the issuer's keys.
    public struct TokenSettings: Sendable, Equatable {
        /// `JWT_ISSUER`, default `fleet-users`: the `iss` tokens carry.
        public var issuer = "fleet-users"
        /// `JWT_AUDIENCE`, default `fleet`: the `aud` tokens name.
        public var audience = "fleet"
        /// `JWT_LEEWAY`, default 30s: clock skew allowed on `exp` and `nbf`.
        public var leeway: Duration = .seconds(30)
        /// `JWKS_REFETCH_INTERVAL`, default 10s: the least time between two key fetches caused
        /// by tokens naming an unknown `kid`.
        public var refetchInterval: Duration = .seconds(10)

        public init() {}
    }

    /// Reads and validates the configuration of `service` from `environment`.
    public static func load(
        service: String,
        defaultPort: Int,
        defaultAdminPort: Int,
        peers declared: [PeerDeclaration] = [],
        environment: EnvironmentReader = EnvironmentReader()
    ) throws -> ServiceConfiguration {
        let env = environment
        let port = try env.port("PORT", default: defaultPort)
        let adminPort = try env.port("ADMIN_PORT", default: defaultAdminPort)
        if port == adminPort && port != 0 {
            throw ConfigurationError(variable: "ADMIN_PORT", value: String(adminPort), reason: "must differ from PORT")
        }
        let dataDirectory = env.string("DATA_DIR") ?? ".data"
        let database = try env.string("DATABASE_URL").map { try DatabaseURL(parsing: $0) }
            ?? .sqlite(path: "\(dataDirectory)/\(service).db")
        var peers: [String: URL] = [:]
        for peer in declared {
            if let url = try env.httpURL(peer.variable) {
                peers[peer.name] = url
            } else if let fallback = peer.defaultURL {
                guard let url = URL(string: fallback), ["http", "https"].contains(url.scheme ?? "") else {
                    throw ConfigurationError(variable: peer.variable, value: fallback, reason: "the declared default is not an http(s) URL")
                }
                peers[peer.name] = url
            } else if peer.required {
                throw ConfigurationError(variable: peer.variable, value: "", reason: "must be set: \(service) requires \(peer.name)")
            }
        }
        var rateLimit: RateLimit?
        if let rps = env.string("RATE_LIMIT_RPS") {
            guard let value = Double(rps), value > 0, value.isFinite else {
                throw ConfigurationError(variable: "RATE_LIMIT_RPS", value: rps, reason: "expected a positive number")
            }
            let burst = try env.positiveInt("RATE_LIMIT_BURST") ?? max(1, Int(value.rounded(.up)))
            rateLimit = RateLimit(requestsPerSecond: value, burst: burst)
        } else if let burst = env.string("RATE_LIMIT_BURST") {
            throw ConfigurationError(variable: "RATE_LIMIT_BURST", value: burst, reason: "needs RATE_LIMIT_RPS")
        }
        let host = env.string("HOST") ?? "127.0.0.1"
        var accessLog = true
        if let raw = env.string("ACCESS_LOG") {
            switch raw.lowercased() {
            case "true", "1", "on", "yes": accessLog = true
            case "false", "0", "off", "no": accessLog = false
            default: throw ConfigurationError(variable: "ACCESS_LOG", value: raw, reason: "expected true or false")
            }
        }
        if let cost = env.string("BCRYPT_COST"), !(Int(cost).map { (4...31).contains($0) } ?? false) {
            throw ConfigurationError(variable: "BCRYPT_COST", value: cost, reason: "expected a whole number from 4 to 31")
        }
        _ = try env.httpURL("OTEL_EXPORTER_OTLP_ENDPOINT")
        var configuration = ServiceConfiguration(
            serviceName: service,
            host: host,
            port: port,
            adminPort: adminPort,
            database: database,
            logLevel: try env.logLevel("LOG_LEVEL", default: .info),
            shutdownDelay: try env.duration("SHUTDOWN_DELAY", default: .seconds(0)),
            shutdownTimeout: try env.duration("SHUTDOWN_TIMEOUT", default: .seconds(25)),
            requestTimeout: env.string("REQUEST_TIMEOUT") == nil ? nil : try env.duration("REQUEST_TIMEOUT", default: .zero),
            maxBodyBytes: try env.bytes("MAX_BODY_BYTES", default: 1 << 20),
            maxUploadBytes: try env.bytes("MAX_UPLOAD_BYTES", default: 10 << 20),
            peerTimeout: try env.duration("PEER_TIMEOUT", default: .seconds(5)),
            dataDirectory: dataDirectory,
            peers: peers,
            rateLimit: rateLimit,
            build: BuildInfo.current(environment: env),
            environment: env.values.filter { variable in
                Self.knownVariables.contains(variable.key) || HTTPSettings.variables.contains(variable.key)
                    || declared.contains { $0.variable == variable.key }
            }
        )
        configuration.accessLog = accessLog
        configuration.background.queueSize = try env.positiveInt("BACKGROUND_QUEUE_SIZE") ?? configuration.background.queueSize
        configuration.background.concurrency = try env.positiveInt("BACKGROUND_CONCURRENCY") ?? configuration.background.concurrency
        configuration.background.timeout = try env.duration("BACKGROUND_TIMEOUT", default: configuration.background.timeout)
        configuration.webSocketPingInterval = try env.duration("WEBSOCKET_PING_INTERVAL", default: configuration.webSocketPingInterval)
        guard configuration.webSocketPingInterval >= .milliseconds(100) else {
            throw ConfigurationError(variable: "WEBSOCKET_PING_INTERVAL", value: env.string("WEBSOCKET_PING_INTERVAL") ?? "", reason: "expected at least 100ms")
        }
        configuration.webSocketSendBuffer = try env.positiveInt("WEBSOCKET_SEND_BUFFER")
        if let raw = env.string("TRUSTED_PROXIES") {
            do {
                configuration.trustedProxies = try TrustedProxies(parsing: raw)
            } catch {
                throw ConfigurationError(variable: "TRUSTED_PROXIES", value: raw, reason: "\(error)")
            }
        }
        configuration.http = try HTTPSettings.load(env)
        configuration.tokens.issuer = env.string("JWT_ISSUER") ?? configuration.tokens.issuer
        configuration.tokens.audience = env.string("JWT_AUDIENCE") ?? configuration.tokens.audience
        configuration.tokens.leeway = try env.duration("JWT_LEEWAY", default: configuration.tokens.leeway)
        configuration.tokens.refetchInterval = try env.duration("JWKS_REFETCH_INTERVAL", default: configuration.tokens.refetchInterval)
        configuration.uploadSpoolBytes = try env.bytes("UPLOAD_SPOOL_BYTES", default: 1 << 20)
        configuration.docsAssets = DocsAssets(
            swaggerJS: try env.httpURL("DOCS_SWAGGER_JS_URL")?.absoluteString ?? DocsAssets.default.swaggerJS,
            swaggerCSS: try env.httpURL("DOCS_SWAGGER_CSS_URL")?.absoluteString ?? DocsAssets.default.swaggerCSS,
            redocJS: try env.httpURL("DOCS_REDOC_JS_URL")?.absoluteString ?? DocsAssets.default.redocJS
        )
        return configuration
    }

    /// A configuration for in-process tests: ephemeral ports, the given database, no delays.
    public static func testing(service: String, database: DatabaseURL, dataDirectory: String) -> ServiceConfiguration {
        ServiceConfiguration(
            serviceName: service, host: "127.0.0.1", port: 0, adminPort: 0, database: database, logLevel: .info,
            shutdownDelay: .zero, shutdownTimeout: .seconds(5), requestTimeout: nil, maxBodyBytes: 1 << 20,
            maxUploadBytes: 10 << 20, peerTimeout: .seconds(5), dataDirectory: dataDirectory, peers: [:], rateLimit: nil,
            build: BuildInfo(version: "test", revision: "test", buildDate: "unknown"), environment: [:]
        )
    }

    static let knownVariables: Set<String> = [
        "HOST", "PORT", "ADMIN_PORT", "DATABASE_URL", "LOG_LEVEL", "SHUTDOWN_DELAY", "SHUTDOWN_TIMEOUT",
        "REQUEST_TIMEOUT", "PEER_TIMEOUT", "MAX_BODY_BYTES", "MAX_UPLOAD_BYTES", "UPLOAD_SPOOL_BYTES", "DATA_DIR", "RATE_LIMIT_RPS",
        "RATE_LIMIT_BURST", "JWT_PRIVATE_KEY_FILE", "JWT_PRIVATE_KEY", "JWT_ISSUER", "JWT_AUDIENCE", "BCRYPT_COST",
        "JWT_LEEWAY", "JWKS_REFETCH_INTERVAL", "BACKGROUND_QUEUE_SIZE", "BACKGROUND_CONCURRENCY", "BACKGROUND_TIMEOUT", "JWT_PREVIOUS_KEY_FILE", "JWT_NEXT_KEY_FILE", "JWT_TTL", "LOGIN_MAX_FAILURES", "LOGIN_LOCKOUT", "OUTBOX_POLL_INTERVAL", "EVENTS_CLIENT_BUFFER", "EVENTS_CLOSE_GRACE", "WEBSOCKET_PING_INTERVAL", "WEBSOCKET_SEND_BUFFER", "PROXY_TIMEOUT", "TRUSTED_PROXIES", "USERS_ADMIN_URL", "CATALOG_ADMIN_URL", "ORDERS_ADMIN_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT", "SERVICE_VERSION", "DOCS_SWAGGER_JS_URL", "DOCS_SWAGGER_CSS_URL", "DOCS_REDOC_JS_URL", "ACCESS_LOG", "GIT_REVISION", "BUILD_DATE",
    ]

    /// The configuration as `/info` shows it: any value whose key names a password, secret, token or
    /// private key is `***`, and so is the password inside a URL.
    public var maskedEnvironment: [String: String] {
        var shown: [String: String] = [:]
        for (key, value) in environment {
            let lowered = key.lowercased()
            if ["password", "secret", "token", "private_key", "privatekey"].contains(where: lowered.contains) {
                shown[key] = "***"
            } else {
                shown[key] = DatabaseURL.masked(value)
            }
        }
        shown["DATABASE_URL"] = database.description
        return shown
    }
}
