import Foundation
import HTTPTypes
import ServiceKitTesting

/// Real users and catalog processes for system tests (the fleet's own test support, outside
/// Shared/, which names no service): users signs with `issuer`'s key, catalog
/// fetches users' JWKS to check tokens, so a test can sign a token with `issuer` (or get one
/// from users' `/token`) and write to catalog with it. Both are stopped afterwards.
public enum UsersAndCatalog {
    /// Runs `body` with both started and ready.
    public static func with<Value>(
        issuer: TestIssuer? = nil, users usersEnvironment: [String: String] = [:], catalog catalogEnvironment: [String: String] = [:],
        _ body: (_ users: ServiceProcess, _ catalog: ServiceProcess, _ issuer: TestIssuer) async throws -> Value
    ) async throws -> Value {
        let issuer = try issuer ?? TestIssuer()
        var usersEnv = ["JWT_PRIVATE_KEY_FILE": issuer.pemFile, "BCRYPT_COST": "4"]
        usersEnv.merge(usersEnvironment) { _, new in new }
        return try await ServiceProcess.with("users", environment: usersEnv) { users in
            try await users.waitUntilReady()
            var catalogEnv = ["USERS_URL": "http://127.0.0.1:\(users.port)"]
            catalogEnv.merge(catalogEnvironment) { _, new in new }
            return try await ServiceProcess.with("catalog", environment: catalogEnv) { catalog in
                try await catalog.waitUntilReady()
                return try await body(users, catalog, issuer)
            }
        }
    }
}
