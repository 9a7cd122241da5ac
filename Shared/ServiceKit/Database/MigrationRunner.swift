import Foundation
import Logging
import SQLKit

/// One versioned schema change. Versions are applied in order, once, each in its own transaction.
public struct Migration: Sendable {
    /// Strictly increasing across a service's migrations.
    public let version: Int
    /// A short name, recorded with the version.
    public let name: String
    /// Applies the change on the transaction's connection.
    public let apply: @Sendable (any SQLDatabase, SQLEngine) async throws -> Void

    /// A migration written as code, for statements that differ between engines.
    public init(_ version: Int, _ name: String, apply: @escaping @Sendable (any SQLDatabase, SQLEngine) async throws -> Void) {
        self.version = version
        self.name = name
        self.apply = apply
    }

    /// A migration of plain SQL statements that both engines accept.
    public init(_ version: Int, _ name: String, statements: [String]) {
        self.init(version, name) { db, _ in
            for statement in statements {
                try await db.raw(SQLQueryString(statement)).run()
            }
        }
    }
}

/// Applies pending migrations at start-up and records them in `schema_migrations`.
///
/// Idempotent: applied versions are skipped. On PostgreSQL an advisory lock keeps two replicas from
/// migrating at once; on SQLite `BEGIN IMMEDIATE` does the same.
public struct MigrationRunner: Sendable {
    let database: Database
    let logger: Logger

    /// Migrates `database`, logging each applied version.
    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Applies every migration not yet recorded; returns the versions applied now.
    @discardableResult
    public func run(_ migrations: [Migration]) async throws -> [Int] {
        let versions = migrations.map(\.version)
        guard versions == versions.sorted(), Set(versions).count == versions.count else {
            throw MigrationError.badOrder(versions)
        }
        try await database.write { db in
            try await db.raw("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)
                """).run()
        }
        var applied: [Int] = []
        for migration in migrations {
            let didApply = try await database.transaction { db -> Bool in
                if database.engine == .postgres {
                    try await db.raw("SELECT pg_advisory_xact_lock(7243001)").run()
                }
                let existing = try await db.raw("SELECT version FROM schema_migrations WHERE version = \(bind: migration.version)").first()
                if existing != nil { return false }
                try await migration.apply(db, database.engine)
                let now = TimestampClock.iso8601(Date())
                try await db.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: now))").run()
                return true
            }
            if didApply {
                applied.append(migration.version)
                logger.info("migration applied", metadata: ["version": .stringConvertible(migration.version), "name": .string(migration.name)])
            }
        }
        return applied
    }
}

/// Why migrations could not run.
public enum MigrationError: Error, CustomStringConvertible {
    case badOrder([Int])

    public var description: String {
        switch self {
        case .badOrder(let versions): return "migration versions must be unique and increasing, got \(versions)"
        }
    }
}
