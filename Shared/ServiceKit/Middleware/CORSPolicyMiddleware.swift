import HTTPTypes
import Hummingbird
import NIOCore

/// Cross-origin requests by `CORS_*` configuration, off (nothing allowed) by default.
///
/// Hummingbird's `CORSMiddleware` writes the headers; this puts a policy in front of it: only the
/// configured origins get any `Access-Control-*` header, and a preflight (an `OPTIONS` with
/// `Access-Control-Request-Method`) asking for an origin, method or header outside the policy is
/// refused with 403 instead of answered, so a browser says why. `Access-Control-Expose-Headers`
/// goes on the actual answers, where browsers read it.
public struct CORSPolicyMiddleware<Context: ServiceRequestContext>: RouterMiddleware {
    let policy: CORSPolicy
    let headers: CORSMiddleware<Context>

    /// Answers under `policy`.
    public init(policy: CORSPolicy) {
        self.policy = policy
        self.headers = CORSMiddleware(
            allowOrigin: policy.allowsAnyOrigin && !policy.allowCredentials ? .all : .originBased,
            allowHeaders: policy.allowHeaders, allowMethods: policy.allowMethods, allowCredentials: policy.allowCredentials,
            exposedHeaders: policy.exposeHeaders.isEmpty ? nil : policy.exposeHeaders, maxAge: .seconds(policy.maxAge))
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let allowed = policy.allows(origin: origin)
        if request.method == .options, let method = request.headers[.accessControlRequestMethod] {
            if let refusal = policy.refusal(origin: allowed ? nil : origin, method: method, headers: request.headers[values: .accessControlRequestHeaders]) {
                return ProblemResponse.render(HTTPProblem(.forbidden, detail: refusal, headers: [.vary: "Origin"]))
            }
            return try await headers.handle(request, context: context, next: next)
        }
        guard allowed else { return try await next(request, context) }
        if request.method == .options {
            // Not a preflight: the route's own OPTIONS answer, with the CORS headers.
            var response = try await next(request, context)
            decorate(&response, origin: origin)
            return response
        }
        var response = try await headers.handle(request, context: context, next: next)
        if !policy.exposeHeaders.isEmpty { response.headers[.accessControlExposeHeaders] = policy.exposeHeaders.joined(separator: ", ") }
        return response
    }

    private func decorate(_ response: inout Response, origin: String) {
        response.headers[.accessControlAllowOrigin] = policy.allowsAnyOrigin && !policy.allowCredentials ? "*" : origin
        if policy.allowCredentials { response.headers[.accessControlAllowCredentials] = "true" }
        if !policy.exposeHeaders.isEmpty { response.headers[.accessControlExposeHeaders] = policy.exposeHeaders.joined(separator: ", ") }
        response.headers[values: .vary].append("Origin")
    }
}

/// Which cross-origin requests are allowed: `CORS_ALLOW_ORIGINS` (comma-separated origins, or `*`),
/// `CORS_ALLOW_METHODS`, `CORS_ALLOW_HEADERS`, `CORS_ALLOW_CREDENTIALS`, `CORS_EXPOSE_HEADERS`,
/// `CORS_MAX_AGE`.
public struct CORSPolicy: Sendable, Equatable {
    /// Field by field (`HTTPField.Name` compares by its canonical name).
    public static func == (lhs: CORSPolicy, rhs: CORSPolicy) -> Bool {
        lhs.allowOrigins == rhs.allowOrigins && lhs.allowMethods == rhs.allowMethods && lhs.allowHeaders == rhs.allowHeaders
            && lhs.allowCredentials == rhs.allowCredentials && lhs.exposeHeaders == rhs.exposeHeaders && lhs.maxAge == rhs.maxAge
    }

    /// Exact origins (`https://app.example.com`); `["*"]` allows any.
    public var allowOrigins: [String]
    /// The methods a preflight may ask for.
    public var allowMethods: [HTTPRequest.Method] = [.get, .head, .post]
    /// The request headers a page may send.
    public var allowHeaders: [HTTPField.Name] = [.accept, .acceptLanguage, .contentLanguage, .contentType, .authorization]
    /// Whether cookies and `Authorization` may be sent; not with `*`, which browsers refuse.
    public var allowCredentials = false
    /// The answer's headers a page's script may read.
    public var exposeHeaders: [String] = ["X-Request-ID"]
    /// Seconds a browser may keep a preflight's answer.
    public var maxAge: Int64 = 600

    /// A policy for `allowOrigins` with the defaults above.
    public init(allowOrigins: [String]) {
        self.allowOrigins = allowOrigins
    }

    var allowsAnyOrigin: Bool { allowOrigins.contains("*") }

    func allows(origin: String) -> Bool {
        origin != "null" && (allowsAnyOrigin || allowOrigins.contains(origin))
    }

    /// Why a preflight is refused, nil when it is allowed.
    func refusal(origin refused: String?, method: String, headers: [String]) -> String? {
        if let refused { return "CORS: origin \(refused) is not allowed" }
        guard allowMethods.contains(where: { $0.rawValue == method }) else { return "CORS: method \(method) is not allowed" }
        let allowed = Set(allowHeaders.map { $0.canonicalName.lowercased() })
        for name in headers.flatMap({ $0.split(separator: ",") }) {
            let name = name.trimmingCharacters(in: .whitespaces).lowercased()
            if !name.isEmpty, !allowed.contains(name) { return "CORS: header \(name) is not allowed" }
        }
        return nil
    }

    /// Reads the `CORS_*` variables; nil when `CORS_ALLOW_ORIGINS` is unset.
    static func load(_ env: EnvironmentReader) throws -> CORSPolicy? {
        guard let origins = env.string("CORS_ALLOW_ORIGINS") else {
            for name in ["CORS_ALLOW_METHODS", "CORS_ALLOW_HEADERS", "CORS_ALLOW_CREDENTIALS", "CORS_EXPOSE_HEADERS", "CORS_MAX_AGE"] {
                if let value = env.string(name) { throw ConfigurationError(variable: name, value: value, reason: "needs CORS_ALLOW_ORIGINS") }
            }
            return nil
        }
        let list = origins.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for origin in list where origin != "*" {
            guard let scheme = origin.split(separator: ":").first, ["http", "https"].contains(scheme), origin.contains("://"), !origin.hasSuffix("/") else {
                throw ConfigurationError(variable: "CORS_ALLOW_ORIGINS", value: origins, reason: "\(origin) is not an origin such as https://app.example.com (no path, no trailing /)")
            }
        }
        var policy = CORSPolicy(allowOrigins: list)
        if let methods = env.string("CORS_ALLOW_METHODS") {
            policy.allowMethods = try methods.split(separator: ",").map { raw in
                let name = raw.trimmingCharacters(in: .whitespaces).uppercased()
                guard let method = HTTPRequest.Method(name), !name.isEmpty else {
                    throw ConfigurationError(variable: "CORS_ALLOW_METHODS", value: methods, reason: "\(name) is not a method")
                }
                return method
            }
        }
        if let names = env.string("CORS_ALLOW_HEADERS") {
            policy.allowHeaders = try names.split(separator: ",").map { raw in
                guard let name = HTTPField.Name(raw.trimmingCharacters(in: .whitespaces)) else {
                    throw ConfigurationError(variable: "CORS_ALLOW_HEADERS", value: names, reason: "\(raw) is not a header name")
                }
                return name
            }
        }
        if let exposed = env.string("CORS_EXPOSE_HEADERS") {
            policy.exposeHeaders = exposed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        policy.allowCredentials = try env.flag("CORS_ALLOW_CREDENTIALS", default: false)
        if policy.allowCredentials, policy.allowsAnyOrigin {
            throw ConfigurationError(variable: "CORS_ALLOW_CREDENTIALS", value: "true", reason: "browsers refuse credentials with CORS_ALLOW_ORIGINS=*; list the origins")
        }
        policy.maxAge = Int64(try env.duration("CORS_MAX_AGE", default: .seconds(policy.maxAge)).components.seconds)
        return policy
    }
}
