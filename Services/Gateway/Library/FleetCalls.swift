import CurlHTTP
import Foundation
import ServiceKit

/// The gateway's view of the fleet: each service's API (through `PeerClient`, counted and
/// circuit-broken under its name) and admin URL, and the one deadline every aggregation keeps.
struct FleetCalls: Sendable {
    let users: PeerClient
    let catalog: PeerClient
    let orders: PeerClient
    /// Admin base URLs by service name, for `/api/status`.
    let admin: [(name: String, url: String)]
    let settings: GatewaySettings

    var services: [PeerClient] { [users, catalog, orders] }

    /// Runs `body` under one deadline: `PEER_TIMEOUT` from now, or the request's own remaining
    /// budget (`REQUEST_TIMEOUT`) when that is shorter, less a quarter of it (at most 500 ms) to
    /// write the degraded answer before the request itself times out. Every peer call inside (and
    /// its retries) ends by then, so an aggregation's latency is its slowest peer's, capped,
    /// never the sum.
    func withinDeadline<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        var context = OutboundContext.current ?? OutboundContext()
        let now = ContinuousClock.now
        var deadline = now + settings.peerTimeout
        if let budget = context.deadline {
            let left = budget - now
            deadline = min(deadline, budget - min(.milliseconds(500), left / 4))
        }
        context.deadline = deadline
        return try await OutboundContext.$current.withValue(context) { try await body() }
    }

    /// `work`'s value, or the error it threw, so that one failed peer leaves the others' answers.
    static func outcome<T: Sendable>(_ work: () async throws -> T) async -> Result<T, any Error> {
        do { return .success(try await work()) } catch { return .failure(error) }
    }

    /// Whether `error` is a peer not answering in time: the deadline passed while connecting or
    /// while waiting for the answer (a stopped process does neither).
    static func isLate(_ error: any Error) -> Bool {
        guard let error = error as? CurlHTTPError else { return false }
        return error == .timeout || error == .connectTimeout
    }

    /// The problem a failed call of a primary resource answers: the peer's own 404 as a 404,
    /// a timeout as 504, anything else as 503 (the service is down or broken).
    static func problem(for error: any Error, peer: String, notFound: String) -> HTTPProblem {
        if let answer = error as? PeerAnswerError, answer.status == .notFound {
            return HTTPProblem(.notFound, notFound)
        }
        if isLate(error) {
            return HTTPProblem(.gatewayTimeout, "\(peer) did not answer in time")
        }
        return HTTPProblem(.serviceUnavailable, "\(peer) is unavailable")
    }
}

/// The gateway's own settings, read and validated at start-up (a bad value exits 2).
struct GatewaySettings: Sendable {
    /// `PEER_TIMEOUT` (ServiceKit's): the deadline of one aggregation.
    var peerTimeout: Duration
    /// `PROXY_TIMEOUT`, default 60s: the most one proxied exchange may take, body included.
    var proxyTimeout: Duration = .seconds(60)
    /// `<NAME>_ADMIN_URL`: each service's admin port, read by `/api/status`.
    var adminURLs: [String: String] = [:]

    static let adminDefaults = ["users": "http://127.0.0.1:9081", "catalog": "http://127.0.0.1:9082", "orders": "http://127.0.0.1:9083"]

    static func load(_ configuration: ServiceConfiguration) throws -> GatewaySettings {
        let env = EnvironmentReader(configuration.environment)
        var settings = GatewaySettings(peerTimeout: configuration.peerTimeout)
        settings.proxyTimeout = try env.duration("PROXY_TIMEOUT", default: settings.proxyTimeout)
        for (name, fallback) in adminDefaults {
            let variable = name.uppercased() + "_ADMIN_URL"
            settings.adminURLs[name] = try env.httpURL(variable)?.absoluteString ?? fallback
        }
        return settings
    }
}
