import HTTPTypes
import Hummingbird

/// The headers every API answer carries so a browser treats it safely (`SECURITY_HEADERS`, on by
/// default): `X-Content-Type-Options: nosniff`, `X-Frame-Options`, `Referrer-Policy`, and
/// `Strict-Transport-Security` when the request came over HTTPS (`X-Forwarded-Proto: https` from a
/// `TRUSTED_PROXIES` peer, since TLS ends at the proxy in front of a service). A route that sets
/// one of them keeps its own. The admin port has none: it serves probes and scrapes, not browsers.
public struct SecurityHeadersMiddleware<Context: ServiceRequestContext>: RouterMiddleware {
    let policy: SecurityHeaders
    let trustedProxies: TrustedProxies

    /// Applies `policy`; `X-Forwarded-Proto` is believed from `trustedProxies` only.
    public init(policy: SecurityHeaders = SecurityHeaders(), trustedProxies: TrustedProxies = .loopback) {
        self.policy = policy
        self.trustedProxies = trustedProxies
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if response.headers[.xContentTypeOptions] == nil { response.headers[.xContentTypeOptions] = "nosniff" }
        if response.headers[.xFrameOptions] == nil { response.headers[.xFrameOptions] = policy.frameOptions }
        if response.headers[.referrerPolicy] == nil { response.headers[.referrerPolicy] = policy.referrerPolicy }
        if let hsts = policy.strictTransportSecurity, response.headers[.strictTransportSecurity] == nil, isHTTPS(request, context) {
            response.headers[.strictTransportSecurity] = hsts
        }
        return response
    }

    private func isHTTPS(_ request: Request, _ context: Context) -> Bool {
        if request.uri.scheme == .https { return true }
        guard let proto = request.headers[.xForwardedProto],
            let peer = context.connection?.remoteAddress?.ipAddress, trustedProxies.contains(peer)
        else { return false }
        // The first value is what the client used with the outermost proxy.
        return proto.split(separator: ",").first?.trimmingCharacters(in: .whitespaces).lowercased() == "https"
    }
}

/// What `SecurityHeadersMiddleware` sends (`FRAME_OPTIONS`, `REFERRER_POLICY`, `HSTS_MAX_AGE`).
public struct SecurityHeaders: Sendable, Equatable {
    /// `X-Frame-Options`, `DENY` by default: no page may frame the API (clickjacking).
    public var frameOptions = "DENY"
    /// `Referrer-Policy`, `no-referrer` by default.
    public var referrerPolicy = "no-referrer"
    /// `HSTS_MAX_AGE` in seconds, a year by default; 0 sends no `Strict-Transport-Security`.
    public var hstsMaxAge = 31_536_000

    /// The defaults above.
    public init() {}

    var strictTransportSecurity: String? { hstsMaxAge > 0 ? "max-age=\(hstsMaxAge); includeSubDomains" : nil }
}

extension HTTPField.Name {
    /// `X-Frame-Options`.
    public static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    /// `X-Forwarded-Proto`: the scheme the client used with the proxy in front.
    public static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    /// `Referrer-Policy`.
    public static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
