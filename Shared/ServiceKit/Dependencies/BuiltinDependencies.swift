import HTTPTypes
import Hummingbird
import NIOCore

// What every service can ask for with `Depends<...>`: registered by `ServiceRuntime` for each
// service, replaceable in tests with `DependencyOverrides`.
extension Database: Injectable {}
extension ServiceConfiguration: Injectable {}
extension BackgroundTasks: Injectable {}

/// The bearer token of the request (`Authorization: Bearer <token>`), unchecked: for a route that
/// forwards it to a peer. 401 with `WWW-Authenticate: Bearer` when absent. Documents the
/// `bearerAuth` security scheme. To check a token, use `CurrentUser`, which parses it the same way.
public struct BearerToken: Dependency {
    public static func resolve(in scope: RequestScope) async throws -> String {
        guard let token = try CurrentUser.credentials(in: scope) else { throw TokenRejection.missing.problem }
        return token
    }

    public static func document(_ operation: inout OperationDescription) {
        operation.requireSecurity("bearerAuth")
        operation.answerProblem(.unauthorized, "Not authenticated")
    }
}

/// `?limit=&offset=` with bounds, shared by list routes: `Depends<Pagination>`.
public struct Pagination: Dependency {
    /// The query parameters it reads.
    @Model
    public struct Parameters {
        @Field(description: "Items per page", ge: 1, le: 500) public var limit: Int = 50
        @Field(description: "Items to skip", ge: 0) public var offset: Int = 0
    }

    public static func resolve(in scope: RequestScope) async throws -> Parameters {
        try await scope.input(Query<Parameters>.self).value
    }

    public static func document(_ operation: inout OperationDescription) {
        Query<Parameters>.document(&operation)
    }
}

/// The client's address, what per-client limits key on: the connection's (`127.0.0.1`, `::1`),
/// or, when that is a trusted proxy (`TRUSTED_PROXIES`, the gateway), the client it names in
/// `X-Forwarded-For`; `unknown` without a connection.
public struct ClientAddress: Dependency {
    public static func resolve(in scope: RequestScope) async throws -> String {
        of(scope.request, connection: scope.context.connection, trusting: (try? scope.registered(ServiceConfiguration.self))?.trustedProxies ?? .none)
    }

    /// The client of `request` on `connection`, believing `X-Forwarded-For` from `trusted` peers;
    /// what middleware use outside a route (the rate limit).
    public static func of(_ request: Request, connection: (any Channel)?, trusting trusted: TrustedProxies) -> String {
        guard let peer = connection?.remoteAddress?.ipAddress else { return "unknown" }
        return trusted.client(peer: peer, forwardedFor: request.headers[values: forwardedFor].joined(separator: ","))
    }

    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
}
