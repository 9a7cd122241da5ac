import Foundation
import ServiceKit
import SQLKit

/// The users' storage, on SQLite or PostgreSQL. Password hashes go in and are compared here, and
/// never come out in a `User`.
public struct UserStore: Injectable {
    let database: Database

    /// Users live in `database`, migrated by `UsersMigrations`.
    public init(database: Database) {
        self.database = database
    }

    /// Why a registration did not insert.
    public enum Conflict: Error, Equatable {
        case username
        case email
    }

    /// What `/token` needs to check a password and fill a token; its description hides the hash.
    public struct Credentials: Sendable, CustomStringConvertible {
        public var id: Int
        public var username: String
        let passwordHash: String
        public var scopes: Set<String>

        public var description: String { "Credentials(id: \(id), username: \(username))" }
    }

    /// Inserts an account. The unique indexes decide a race: the loser gets `Conflict`.
    public func create(_ new: UserCreate, passwordHash: String) async throws -> User {
        let now = Self.now()
        let emailKey = new.email.lowercased()
        return try await database.write { db in
            let row = try await db.raw("""
                INSERT INTO users (username, email, email_key, password_hash, created_at)
                VALUES (\(bind: new.username), \(bind: new.email), \(bind: emailKey), \(bind: passwordHash), \(bind: now))
                ON CONFLICT DO NOTHING
                RETURNING id
                """).first()
            guard let id = try row?.decode(column: "id", as: Int.self) else {
                let taken = try await db.raw("SELECT 1 AS taken FROM users WHERE username = \(bind: new.username)").first()
                throw taken == nil ? Conflict.email : Conflict.username
            }
            return User(id: id, username: new.username, email: new.email, createdAt: now)
        }
    }

    /// One account, or nil.
    public func get(_ id: Int) async throws -> User? {
        try await database.withConnection { db in
            try await db.raw("SELECT id, username, email, created_at FROM users WHERE id = \(bind: id)").first().map(Self.user)
        }
    }

    /// The credentials of `username`, or nil when there is no such account.
    public func credentials(of username: String) async throws -> Credentials? {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT id, username, password_hash, scopes FROM users WHERE username = \(bind: username)").first() else {
                return nil
            }
            return Credentials(
                id: try row.decode(column: "id", as: Int.self),
                username: try row.decode(column: "username", as: String.self),
                passwordHash: try row.decode(column: "password_hash", as: String.self),
                scopes: Set(try row.decode(column: "scopes", as: String.self).split(separator: " ").map(String.init))
            )
        }
    }

    /// A page of accounts, oldest first.
    public func list(limit: Int, offset: Int) async throws -> (users: [User], total: Int) {
        try await database.withConnection { db in
            let total = try await db.raw("SELECT COUNT(*) AS total FROM users").first()?.decode(column: "total", as: Int.self) ?? 0
            let rows = try await db.raw("SELECT id, username, email, created_at FROM users ORDER BY id LIMIT \(bind: limit) OFFSET \(bind: offset)").all()
            return (try rows.map(Self.user), total)
        }
    }

    /// Grants `scopes` to an account (an operator's action; no route does it).
    public func grant(_ scopes: Set<String>, to id: Int) async throws {
        try await database.write { db in
            try await db.raw("UPDATE users SET scopes = \(bind: scopes.sorted().joined(separator: " ")) WHERE id = \(bind: id)").run()
        }
    }

    static func user(_ row: any SQLRow) throws -> User {
        User(
            id: try row.decode(column: "id", as: Int.self),
            username: try row.decode(column: "username", as: String.self),
            email: try row.decode(column: "email", as: String.self),
            createdAt: try row.decode(column: "created_at", as: String.self)
        )
    }

    static func now() -> String {
        Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
