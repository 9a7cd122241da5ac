import Foundation
import ServiceKit

/// The users service's own settings, read and validated at start-up (a bad value exits 2).
struct UsersSettings: Sendable {
    /// `BCRYPT_COST`, 4–31, default 12: each step doubles the time of a hash.
    var bcryptCost = 12
    /// `JWT_TTL`, default 1h: how long an access token is valid.
    var tokenLifetime: Duration = .seconds(3600)
    /// `JWT_PRIVATE_KEY` (PEM) or the file `JWT_PRIVATE_KEY_FILE` names: the signing key.
    var privateKeyPEM: String?
    /// Where `JWT_PRIVATE_KEY_FILE` pointed, for messages.
    var privateKeySource = "JWT_PRIVATE_KEY"
    /// `JWT_PREVIOUS_KEY_FILE` / `JWT_NEXT_KEY_FILE`: keys published but not signed with.
    var previousKeyFile: String?
    var nextKeyFile: String?
    /// `LOGIN_MAX_FAILURES`, default 5: failed logins per username or client before a lockout.
    var loginMaxFailures = 5
    /// `LOGIN_LOCKOUT`, default 60s: the window those failures count in, and the lockout.
    var loginLockout: Duration = .seconds(60)

    static func load(_ configuration: ServiceConfiguration) throws -> UsersSettings {
        let env = EnvironmentReader(configuration.environment)
        var settings = UsersSettings()
        if let raw = env.string("BCRYPT_COST") {
            guard let cost = Int(raw), (4...31).contains(cost) else {
                throw ConfigurationError(variable: "BCRYPT_COST", value: raw, reason: "expected a whole number from 4 to 31")
            }
            settings.bcryptCost = cost
        }
        settings.tokenLifetime = try env.duration("JWT_TTL", default: settings.tokenLifetime)
        guard settings.tokenLifetime >= .seconds(1) else {
            throw ConfigurationError(variable: "JWT_TTL", value: env.string("JWT_TTL") ?? "", reason: "expected at least one second")
        }
        if let pem = env.string("JWT_PRIVATE_KEY") {
            settings.privateKeyPEM = pem
        } else if let path = env.string("JWT_PRIVATE_KEY_FILE") {
            settings.privateKeyPEM = try Self.read(path, variable: "JWT_PRIVATE_KEY_FILE")
            settings.privateKeySource = "JWT_PRIVATE_KEY_FILE"
        }
        settings.previousKeyFile = env.string("JWT_PREVIOUS_KEY_FILE")
        settings.nextKeyFile = env.string("JWT_NEXT_KEY_FILE")
        settings.loginMaxFailures = try env.positiveInt("LOGIN_MAX_FAILURES") ?? settings.loginMaxFailures
        settings.loginLockout = try env.duration("LOGIN_LOCKOUT", default: settings.loginLockout)
        return settings
    }

    static func read(_ path: String, variable: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(variable: variable, value: path, reason: "cannot read the file")
        }
        return text
    }
}
