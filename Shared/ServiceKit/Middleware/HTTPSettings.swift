/// The API port's optional HTTP behaviours, read once with the rest of the configuration; the
/// stack they make, and its order, is in docs/middleware.md.
public struct HTTPSettings: Sendable, Equatable {
    /// `CORS_*`; nil (the default): no cross-origin request is allowed.
    public var cors: CORSPolicy?
    /// `COMPRESSION` (on): gzip/deflate answers for clients that accept them.
    public var compression = true
    /// `COMPRESSION_MIN_BYTES` (1024): smaller bodies are sent as they are.
    public var compressionMinBytes = 1024
    /// `SECURITY_HEADERS` (on) with `FRAME_OPTIONS`, `REFERRER_POLICY`, `HSTS_MAX_AGE`; nil when off.
    public var securityHeaders: SecurityHeaders? = SecurityHeaders()
    /// `RATE_LIMIT_ROUTES`: routes with a limit of their own (beside `RATE_LIMIT_RPS`).
    public var rateLimitRoutes: [RateLimitRules.Route] = []
    /// `RATE_LIMIT_CLIENTS` (10,000): the most client buckets held; the oldest go first.
    public var rateLimitClients = 10_000
    /// `REQUEST_HEADER_TIMEOUT` (10s): the longest a request head may take to arrive.
    public var headerTimeout: Duration = .seconds(10)
    /// `REQUEST_BODY_TIMEOUT` (30s): the longest pause between two reads of a request body.
    public var bodyTimeout: Duration = .seconds(30)

    /// The defaults: CORS off, the rest on with the values above.
    public init() {}

    static let variables: Set<String> = [
        "CORS_ALLOW_ORIGINS", "CORS_ALLOW_METHODS", "CORS_ALLOW_HEADERS", "CORS_ALLOW_CREDENTIALS", "CORS_EXPOSE_HEADERS", "CORS_MAX_AGE",
        "COMPRESSION", "COMPRESSION_MIN_BYTES", "SECURITY_HEADERS", "FRAME_OPTIONS", "REFERRER_POLICY", "HSTS_MAX_AGE",
        "RATE_LIMIT_ROUTES", "RATE_LIMIT_CLIENTS", "REQUEST_HEADER_TIMEOUT", "REQUEST_BODY_TIMEOUT",
    ]

    static func load(_ env: EnvironmentReader) throws -> HTTPSettings {
        var settings = HTTPSettings()
        settings.cors = try CORSPolicy.load(env)
        settings.compression = try env.flag("COMPRESSION", default: true)
        settings.compressionMinBytes = try env.bytes("COMPRESSION_MIN_BYTES", default: settings.compressionMinBytes)
        if try env.flag("SECURITY_HEADERS", default: true) {
            var headers = SecurityHeaders()
            if let frame = env.string("FRAME_OPTIONS") {
                guard ["DENY", "SAMEORIGIN"].contains(frame.uppercased()) else {
                    throw ConfigurationError(variable: "FRAME_OPTIONS", value: frame, reason: "expected DENY or SAMEORIGIN")
                }
                headers.frameOptions = frame.uppercased()
            }
            if let referrer = env.string("REFERRER_POLICY") {
                let known = ["no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin", "same-origin", "strict-origin", "strict-origin-when-cross-origin", "unsafe-url"]
                guard known.contains(referrer.lowercased()) else {
                    throw ConfigurationError(variable: "REFERRER_POLICY", value: referrer, reason: "expected one of \(known.joined(separator: ", "))")
                }
                headers.referrerPolicy = referrer.lowercased()
            }
            if let age = env.string("HSTS_MAX_AGE") {
                guard let seconds = Int(age), seconds >= 0 else {
                    throw ConfigurationError(variable: "HSTS_MAX_AGE", value: age, reason: "expected whole seconds, 0 for none")
                }
                headers.hstsMaxAge = seconds
            }
            settings.securityHeaders = headers
        } else {
            settings.securityHeaders = nil
        }
        if let routes = env.string("RATE_LIMIT_ROUTES") {
            do {
                settings.rateLimitRoutes = try RateLimitRules.parseRoutes(routes)
            } catch {
                throw ConfigurationError(variable: "RATE_LIMIT_ROUTES", value: routes, reason: "\(error)")
            }
        }
        settings.rateLimitClients = try env.positiveInt("RATE_LIMIT_CLIENTS") ?? settings.rateLimitClients
        settings.headerTimeout = try env.duration("REQUEST_HEADER_TIMEOUT", default: settings.headerTimeout)
        settings.bodyTimeout = try env.duration("REQUEST_BODY_TIMEOUT", default: settings.bodyTimeout)
        for (name, value) in [("REQUEST_HEADER_TIMEOUT", settings.headerTimeout), ("REQUEST_BODY_TIMEOUT", settings.bodyTimeout)] where value < .milliseconds(100) {
            throw ConfigurationError(variable: name, value: env.string(name) ?? "", reason: "expected at least 100ms")
        }
        return settings
    }
}
