import Hummingbird

/// The caller, from a valid bearer token: `Depends<CurrentUser>` in a route that needs one.
/// Refuses with 401 and `WWW-Authenticate: Bearer` (see `TokenRejection`). Needs a
/// `TokenVerifier` provided to the router (`router.provide(verifier)`).
public struct CurrentUser: Dependency {
    public static func resolve(in scope: RequestScope) async throws -> AuthenticatedUser {
        guard let token = try credentials(in: scope) else { throw TokenRejection.missing.problem }
        return try await verify(token, in: scope)
    }

    public static func document(_ operation: inout OperationDescription) {
        operation.requireSecurity("OAuth2PasswordBearer")
        operation.requireSecurity("bearerAuth")
        operation.answerProblem(.unauthorized, "Not authenticated, or the token is invalid")
    }

    /// The token of `Authorization: Bearer <token>`; nil when there is no such header or it names
    /// another scheme. A `Bearer` header without a token is an invalid one.
    static func credentials(in scope: RequestScope) throws -> String? {
        guard let header = scope.request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard let scheme = parts.first, scheme.lowercased() == "bearer" else { return nil }
        let token = parts.count == 2 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        guard !token.isEmpty else { throw TokenRejection.malformed("empty bearer token").problem }
        return token
    }

    static func verify(_ token: String, in scope: RequestScope) async throws -> AuthenticatedUser {
        let verifier = try await scope.resolve(TokenVerifier.self)
        do {
            return try await verifier.verify(token)
        } catch {
            scope.logger.info("token refused", metadata: ["reason": .string(error.description)])
            throw error.problem
        }
    }
}

/// The caller when a token came, nil when none did: for routes where signing in is optional.
/// A token that came and is invalid is still a 401, never silently ignored.
public struct OptionalUser: Dependency {
    public static func resolve(in scope: RequestScope) async throws -> AuthenticatedUser? {
        guard let token = try CurrentUser.credentials(in: scope) else { return nil }
        return try await CurrentUser.verify(token, in: scope)
    }

    public static func document(_ operation: inout OperationDescription) {
        operation.requireSecurity("OAuth2PasswordBearer")
        operation.requireSecurity("bearerAuth")
        operation.allowAnonymous()
        operation.answerProblem(.unauthorized, "The token is invalid")
    }
}

/// A scope a route requires, named at the type level: `Depends<Scoped<WriteItems>>`.
///
/// ```swift
/// enum WriteItems: AuthScope { static let name = "items:write" }
/// ```
public protocol AuthScope: Sendable {
    /// The scope's name as tokens carry it in `scope`.
    static var name: String { get }
}

/// The caller, who must hold scope `S`: 401 without a valid token, 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope"` without the scope.
public struct Scoped<S: AuthScope>: Dependency {
    public static func resolve(in scope: RequestScope) async throws -> AuthenticatedUser {
        let user = try await scope.resolve(CurrentUser.self)
        guard user.scopes.contains(S.name) else {
            throw HTTPProblem(.forbidden, detail: "Not enough permissions: scope \(S.name) is required", headers: [
                .wwwAuthenticate: #"Bearer error="insufficient_scope", scope="\#(S.name)""#,
            ])
        }
        return user
    }

    public static func document(_ operation: inout OperationDescription) {
        CurrentUser.document(&operation)
        operation.answerProblem(.forbidden, "The token lacks scope \(S.name)")
    }
}
