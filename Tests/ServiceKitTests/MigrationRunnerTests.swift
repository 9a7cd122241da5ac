import Foundation
import Logging
import ServiceKit
import ServiceKitTesting
import SQLKit
import Testing

/// Versioned migrations on both engines: applied once, recorded, rolled back on failure.
@Suite struct MigrationRunnerTests {
    static let migrations = [
        Migration(1, "notes", statements: ["CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)"]),
        Migration(2, "seed", statements: ["INSERT INTO notes (id, body) VALUES (1, 'first')"]),
    ]

    func withDatabase(_ engine: SQLEngine, _ body: (Database) async throws -> Void) async throws {
        switch engine {
        case .sqlite:
            let directory = try TemporaryDirectory.make(prefix: "migrations")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let database = try Database.open(.sqlite(path: directory + "/m.db"), logger: Logger(label: "test"))
            do { try await body(database) } catch {
                try? await database.close()
                throw error
            }
            try await database.close()
        case .postgres:
            try await PostgresServer.with { server in
                let database = try Database.open(try DatabaseURL(parsing: server.url), logger: Logger(label: "test"))
                do { try await body(database) } catch {
                    try? await database.close()
                    throw error
                }
                try await database.close()
            }
        }
    }

    @Test(arguments: [SQLEngine.sqlite, .postgres])
    func migrationsRunOnceAndAreRecorded(engine: SQLEngine) async throws {
        try await withDatabase(engine) { database in
            let runner = MigrationRunner(database: database, logger: Logger(label: "test"))
            #expect(try await runner.run(Self.migrations) == [1, 2])
            #expect(try await runner.run(Self.migrations) == [])
            try await database.withConnection { db in
                let notes = try await db.raw("SELECT COUNT(*) AS n FROM notes").first()
                #expect(try notes?.decode(column: "n", as: Int.self) == 1)
                let recorded = try await db.raw("SELECT version, name FROM schema_migrations ORDER BY version").all()
                #expect(try recorded.map { try $0.decode(column: "name", as: String.self) } == ["notes", "seed"])
            }
        }
    }

    @Test(arguments: [SQLEngine.sqlite, .postgres])
    func aFailingMigrationLeavesNoTrace(engine: SQLEngine) async throws {
        try await withDatabase(engine) { database in
            let runner = MigrationRunner(database: database, logger: Logger(label: "test"))
            let broken = Migration(1, "half") { db, _ in
                try await db.raw("CREATE TABLE half (id BIGINT PRIMARY KEY)").run()
                try await db.raw("INSERT INTO no_such_table VALUES (1)").run()
            }
            await #expect(throws: (any Error).self) { try await runner.run([broken]) }
            try await database.withConnection { db in
                let recorded = try await db.raw("SELECT COUNT(*) AS n FROM schema_migrations").first()
                #expect(try recorded?.decode(column: "n", as: Int.self) == 0)
            }
            // The table created before the failure was rolled back with it.
            #expect(try await runner.run([Migration(1, "half", statements: ["CREATE TABLE half (id BIGINT PRIMARY KEY)"])]) == [1])
        }
    }

    @Test func versionsOutOfOrderAreRefused() async throws {
        try await withDatabase(.sqlite) { database in
            let runner = MigrationRunner(database: database, logger: Logger(label: "test"))
            await #expect(throws: MigrationError.self) { try await runner.run([Self.migrations[1], Self.migrations[0]]) }
        }
    }

    /// Readiness probes ping the database from the moment the admin port opens, while the
    /// migrations open the writer on a file that does not exist yet. Both connections used to
    /// switch the new file to WAL, and SQLite answers one of two such upgrades "database is
    /// locked" at once (no busy wait can resolve it), which failed the migrations and the start.
    @Test func migrationsOnANewFileSucceedWhileReadersPingIt() async throws {
        let directory = try TemporaryDirectory.make(prefix: "migrations-race")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for attempt in 0..<20 {
            let database = try Database.open(.sqlite(path: directory + "/race\(attempt).db"), logger: Logger(label: "test"))
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask { try await database.ping() }
                    }
                    group.addTask { try await MigrationRunner(database: database, logger: Logger(label: "test")).run(Self.migrations) }
                    try await group.waitForAll()
                }
            } catch {
                try? await database.close()
                Issue.record("attempt \(attempt): \(error)")
                return
            }
            try await database.close()
        }
    }
}
