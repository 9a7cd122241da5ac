import AsyncKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit
import SQLiteNIO

/// Which SQL engine a `Database` talks to, for the few statements that differ.
public enum SQLEngine: String, Sendable {
    case sqlite
    case postgres
}

/// One query layer (SQLKit) over a pool of SQLite or PostgreSQL connections.
///
/// SQLite runs on NIO's thread pool and PostgreSQL on non-blocking sockets, so no query blocks an
/// event loop. SQLite files are opened in WAL mode, so readers never wait for the writer; writes
/// (`write`, `transaction`) go through a pool of exactly one connection, so writers queue in the
/// pool instead of sleeping in SQLite's busy handler on thread-pool threads that the lock holder
/// needs to finish (which deadlocks until the busy timeout under concurrent writes).
public final class Database: Sendable {
    /// The engine behind this database.
    public let engine: SQLEngine
    private let lease: @Sendable (Logger) async throws -> (any SQLDatabase, @Sendable () -> Void)
    private let leaseWriter: @Sendable (Logger) async throws -> (any SQLDatabase, @Sendable () -> Void)
    private let shutdown: @Sendable () async throws -> Void
    private let logger: Logger

    private init(
        engine: SQLEngine, logger: Logger,
        lease: @escaping @Sendable (Logger) async throws -> (any SQLDatabase, @Sendable () -> Void),
        leaseWriter: (@Sendable (Logger) async throws -> (any SQLDatabase, @Sendable () -> Void))? = nil,
        shutdown: @escaping @Sendable () async throws -> Void
    ) {
        self.engine = engine
        self.logger = logger
        self.lease = lease
        self.leaseWriter = leaseWriter ?? lease
        self.shutdown = shutdown
    }

    /// Opens a pool for `url`; SQLite creates the file's folder when missing.
    ///
    /// Queries are not logged at any level: their binds carry what must never reach a log line
    /// (password hashes, tokens), and a debug level switched on at run time would print them.
    public static func open(_ url: DatabaseURL, logger: Logger, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws -> Database {
        switch url {
        case .sqlite(let path):
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            let readers = PoolBox(EventLoopGroupConnectionPool(
                source: SQLiteFileSource(path: path, isWriter: false), maxConnectionsPerEventLoop: 2,
                requestTimeout: .seconds(30), logger: logger, on: eventLoopGroup
            ))
            // One event loop, one connection: the single writer.
            let writer = PoolBox(EventLoopGroupConnectionPool(
                source: SQLiteFileSource(path: path, isWriter: true), maxConnectionsPerEventLoop: 1,
                requestTimeout: .seconds(30), logger: logger, on: eventLoopGroup.next()
            ))
            return Database(
                engine: .sqlite, logger: logger,
                lease: { logger in
                    let connection = try await readers.value.requestConnection(logger: logger).get()
                    return (connection.sql(encoder: .init(), decoder: .init(), queryLogLevel: nil), { readers.value.releaseConnection(connection, logger: logger) })
                },
                leaseWriter: { logger in
                    let connection = try await writer.value.requestConnection(logger: logger).get()
                    return (connection.sql(encoder: .init(), decoder: .init(), queryLogLevel: nil), { writer.value.releaseConnection(connection, logger: logger) })
                },
                shutdown: {
                    try await writer.value.shutdownAsync()
                    try await readers.value.shutdownAsync()
                }
            )
        case .postgres(let raw):
            let configuration = try SQLPostgresConfiguration(url: raw)
            let pool = PoolBox(EventLoopGroupConnectionPool(
                source: PostgresConnectionSource(sqlConfiguration: configuration), maxConnectionsPerEventLoop: 4,
                requestTimeout: .seconds(10), logger: logger, on: eventLoopGroup
            ))
            return Database(
                engine: .postgres, logger: logger,
                lease: { logger in
                    let connection = try await pool.value.requestConnection(logger: logger).get()
                    return (connection.sql(queryLogLevel: nil), { pool.value.releaseConnection(connection, logger: logger) })
                },
                shutdown: { try await pool.value.shutdownAsync() }
            )
        }
    }

    /// Runs `body` on one leased connection, returned to the pool afterwards whatever happens.
    public func withConnection<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        let (connection, release) = try await lease(logger)
        defer { release() }
        return try await body(connection)
    }

    /// Runs a single writing statement (or several that need no atomicity) on the writer.
    public func write<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        let (connection, release) = try await leaseWriter(logger)
        defer { release() }
        return try await body(connection)
    }

    /// Runs `body` in a transaction on the writer: committed when it returns, rolled back when it
    /// throws. SQLite takes the write lock up front (`BEGIN IMMEDIATE`), which matters when
    /// another process writes to the same file.
    public func transaction<T>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await write { connection in
            try await connection.raw(engine == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN").run()
            do {
                let result = try await body(connection)
                try await connection.raw("COMMIT").run()
                return result
            } catch {
                try? await connection.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    /// Answers whether the database takes a trivial query (the readiness check).
    public func ping() async throws {
        _ = try await withConnection { try await $0.raw("SELECT 1 AS ok").all() }
    }

    /// Closes every pooled connection.
    public func close() async throws {
        try await shutdown()
    }
}

/// AsyncKit's pool guards its state with locks and hops to event loops itself, but is not marked
/// `Sendable`; this box states that invariant once instead of at every capture.
final class PoolBox<Source: ConnectionPoolSource>: @unchecked Sendable {
    let value: EventLoopGroupConnectionPool<Source>
    init(_ value: EventLoopGroupConnectionPool<Source>) { self.value = value }
}

/// Opens SQLite connections with the pragmas a server needs.
///
/// Only the writer switches the file to WAL (the mode is stored in the file, and readers follow
/// it). When a reader and the writer both opened a new file at once (a readiness probe during the
/// first migrations), both asked for the switch, and SQLite answers one of two such lock upgrades
/// "database is locked" at once, without a busy wait: the migrations failed and the service with
/// them.
struct SQLiteFileSource: ConnectionPoolSource {
    let path: String
    let isWriter: Bool

    func makeConnection(logger: Logger, on eventLoop: any EventLoop) -> EventLoopFuture<SQLiteConnection> {
        SQLiteConnection.open(storage: .file(path: path), threadPool: .singleton, logger: logger, on: eventLoop)
            .flatMap { connection in
                // `synchronous` before the switch to WAL: on a new file the switch is a write,
                // which under the default (FULL) syncs the rollback journal, the file and the folder.
                let pragmas = [
                    "PRAGMA busy_timeout = 10000", "PRAGMA synchronous = NORMAL",
                    isWriter ? "PRAGMA journal_mode = WAL" : nil, "PRAGMA foreign_keys = ON",
                ].compactMap { $0 }
                var chain = eventLoop.makeSucceededVoidFuture()
                for pragma in pragmas {
                    chain = chain.flatMap { connection.query(pragma).map { _ in } }
                }
                return chain.map { connection }.flatMapError { error in
                    connection.close().flatMapThrowing { throw error }
                }
            }
    }
}
