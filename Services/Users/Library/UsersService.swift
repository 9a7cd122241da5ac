import JWTKit
import ServiceKit

/// The users service: accounts, bcrypt-hashed passwords, and the ES256 tokens every service
/// checks against its JWKS.
public enum UsersService {
    /// What `users`' executable runs and what tests build in-process.
    public static let definition = ServiceDefinition(
        name: "users",
        defaultPort: 8081,
        defaultAdminPort: 9081,
        migrations: UsersMigrations.all
    ) { router, dependencies in
        let configuration = dependencies.configuration
        let settings = try UsersSettings.load(configuration)
        let keys = try SigningKeys.load(settings, dataDirectory: configuration.dataDirectory, logger: dependencies.logger)
        router.provide(UserStore(database: dependencies.database))
        router.provide(TokenVerifier(keys: OwnKeys(keys: keys), configuration: configuration))
        UserRoutes(
            keys: keys, hasher: PasswordHasher(cost: settings.bcryptCost),
            throttle: LoginThrottle(maxFailures: settings.loginMaxFailures, window: settings.loginLockout),
            settings: settings, tokens: configuration.tokens
        ).register(router)
    }
}

/// Users checks its own tokens (`/users/me`) against its key ring, without fetching its JWKS.
struct OwnKeys: VerificationKeys {
    let keys: SigningKeys

    func keys(for kid: String) async throws -> JWTKeyCollection? {
        try await keys.verificationKeys().keys(for: kid)
    }
}
