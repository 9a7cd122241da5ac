import Foundation
import ServiceKit
import SQLKit

/// The orders' storage, on SQLite or PostgreSQL: orders with their lines, idempotency keys, and
/// the reservation intents that make compensation durable.
public struct OrderStore: Injectable {
    let database: Database

    /// Orders live in `database`, migrated by `OrdersMigrations`.
    public init(database: Database) {
        self.database = database
    }

    /// What claiming an idempotency key found.
    public enum Claim: Sendable, Equatable {
        /// The key is this request's now.
        case claimed
        /// The key already made this order, for the same body.
        case replay(orderID: Int)
        /// The key was used with another body.
        case otherBody
        /// Another request with this key and body is still being answered.
        case inProgress
    }

    /// Claims `key` for `user` and `bodyHash`; the primary key decides a race.
    public func claim(_ key: String, user: String, bodyHash: String) async throws -> Claim {
        try await database.write { db in
            let inserted = try await db.raw("""
                INSERT INTO idempotency_keys (user_id, key, body_hash, order_id, created_at)
                VALUES (\(bind: user), \(bind: key), \(bind: bodyHash), NULL, \(bind: Self.now()))
                ON CONFLICT DO NOTHING RETURNING key
                """).first()
            if inserted != nil { return .claimed }
            guard let row = try await db.raw("SELECT body_hash, order_id FROM idempotency_keys WHERE user_id = \(bind: user) AND key = \(bind: key)").first() else {
                return .inProgress
            }
            guard try row.decode(column: "body_hash", as: String.self) == bodyHash else { return .otherBody }
            if let order = try row.decode(column: "order_id", as: Int?.self) { return .replay(orderID: order) }
            return .inProgress
        }
    }

    /// Gives `key` up after a failed attempt, so that a retry may try again.
    public func unclaim(_ key: String, user: String) async throws {
        try await database.write { db in
            try await db.raw("DELETE FROM idempotency_keys WHERE user_id = \(bind: user) AND key = \(bind: key) AND order_id IS NULL").run()
        }
    }

    /// Records that `reservationID` is about to be reserved, before the call, so that a crash
    /// between the reservation and the order's commit still leaves a record to release from.
    public func recordIntent(_ reservationID: String, attempt: String, itemID: Int, quantity: Int, authorization: String) async throws {
        try await database.write { db in
            try await db.raw("""
                INSERT INTO reservation_intents (reservation_id, attempt, item_id, quantity, releasing, authorization_header, created_at)
                VALUES (\(bind: reservationID), \(bind: attempt), \(bind: itemID), \(bind: quantity), 0, \(bind: authorization), \(bind: Date().timeIntervalSince1970))
                """).run()
        }
    }

    /// Marks every intent of `attempt` for release.
    public func abandon(attempt: String) async throws {
        try await database.write { db in
            try await db.raw("UPDATE reservation_intents SET releasing = 1 WHERE attempt = \(bind: attempt)").run()
        }
    }

    /// An intent waiting to be released.
    public struct Intent: Sendable, Equatable {
        public var reservationID: String
        public var itemID: Int
        public var quantity: Int
        var authorization: String
    }

    /// Intents to release: those marked, and those of attempts older than `orphanAge` (a process
    /// that died between a reservation and its order's commit).
    public func intentsToRelease(attempt: String? = nil, orphanAge: TimeInterval = 300) async throws -> [Intent] {
        try await database.withConnection { db in
            let rows: [any SQLRow]
            if let attempt {
                rows = try await db.raw("SELECT * FROM reservation_intents WHERE attempt = \(bind: attempt) AND releasing = 1").all()
            } else {
                let before = Date().timeIntervalSince1970 - orphanAge
                rows = try await db.raw("SELECT * FROM reservation_intents WHERE releasing = 1 OR created_at < \(bind: before) ORDER BY created_at").all()
            }
            return try rows.map { row in
                Intent(
                    reservationID: try row.decode(column: "reservation_id", as: String.self),
                    itemID: try row.decode(column: "item_id", as: Int.self),
                    quantity: try row.decode(column: "quantity", as: Int.self),
                    authorization: try row.decode(column: "authorization_header", as: String.self)
                )
            }
        }
    }

    /// Forgets an intent catalog has released.
    public func forget(_ reservationID: String) async throws {
        try await database.write { db in
            try await db.raw("DELETE FROM reservation_intents WHERE reservation_id = \(bind: reservationID)").run()
        }
    }

    /// Counts a failed release try.
    public func countFailure(_ reservationID: String) async throws {
        try await database.write { db in
            try await db.raw("UPDATE reservation_intents SET attempts = attempts + 1 WHERE reservation_id = \(bind: reservationID)").run()
        }
    }

    /// Stores the order and its lines, ties the idempotency key to it and drops the attempt's
    /// intents, in one transaction: either all of it is stored or none.
    public func commit(user: String, lines: [OrderLine], attempt: String, key: String?) async throws -> Order {
        let now = Self.now()
        let total = (lines.reduce(0.0) { $0 + Double($1.quantity) * $1.unitPrice } * 100).rounded() / 100
        return try await database.transaction { db in
            let row = try await db.raw("""
                INSERT INTO orders (user_id, status, total, created_at) VALUES (\(bind: user), 'placed', \(bind: total), \(bind: now))
                RETURNING id
                """).first()
            guard let id = try row?.decode(column: "id", as: Int.self) else { throw OrderStoreError.noRowReturned }
            for (position, line) in lines.enumerated() {
                try await db.raw("""
                    INSERT INTO order_lines (order_id, position, item_id, name, quantity, unit_price)
                    VALUES (\(bind: id), \(bind: position), \(bind: line.itemId), \(bind: line.name), \(bind: line.quantity), \(bind: line.unitPrice))
                    """).run()
            }
            if let key {
                try await db.raw("UPDATE idempotency_keys SET order_id = \(bind: id) WHERE user_id = \(bind: user) AND key = \(bind: key)").run()
            }
            try await db.raw("DELETE FROM reservation_intents WHERE attempt = \(bind: attempt)").run()
            let order = Order(id: id, userId: user, status: "placed", lines: lines, total: total, createdAt: now)
            var writer = JSONWriter(capacity: 512)
            order.writeJSON(to: &writer)
            if database.engine == .postgres {
                // Outbox ids must become visible in their order, or a replica reading `id > cursor`
                // between two commits that finished out of order would skip the lower id for
                // good. The lock is held from the id's assignment to the commit, so the outbox's
                // commits are serialised (only this short last transaction; SQLite has one
                // writer anyway), and `pg_notify` wakes every replica's publisher at the commit.
                try await db.raw("SELECT pg_advisory_xact_lock(\(bind: Self.outboxLock))").run()
            }
            try await db.raw("""
                INSERT INTO outbox (type, time, data, published) VALUES ('order.created', \(bind: now), \(bind: String(buffer: writer.buffer)), 0)
                """).run()
            if database.engine == .postgres {
                try await db.raw("SELECT pg_notify(\(bind: Self.outboxChannel), '')").run()
            }
            return order
        }
    }

    /// The PostgreSQL channel every commit to the outbox notifies.
    public static let outboxChannel = "orders_outbox"
    /// The advisory lock that orders the outbox's commits ("outbox" in ASCII).
    static let outboxLock: Int64 = 0x6F75_7462_6F78

    /// Events after `id`, oldest first: what a client that saw `id` missed.
    public func events(after id: Int, limit: Int = 1000) async throws -> [OrderEvent] {
        try await database.withConnection { db in
            try await db.raw("SELECT * FROM outbox WHERE id > \(bind: id) ORDER BY id LIMIT \(bind: limit)").all().map(Self.event)
        }
    }

    /// Where a starting publisher resumes: just before the oldest event never published, or
    /// after the newest when all were.
    public func publicationStart() async throws -> Int {
        try await database.withConnection { db in
            if let first = try await db.raw("SELECT MIN(id) AS id FROM outbox WHERE published = 0").first()?.decode(column: "id", as: Int?.self) {
                return first - 1
            }
            return try await db.raw("SELECT MAX(id) AS id FROM outbox").first()?.decode(column: "id", as: Int?.self) ?? 0
        }
    }

    /// Marks events as published.
    public func markPublished(upTo id: Int) async throws {
        try await database.write { db in
            try await db.raw("UPDATE outbox SET published = 1 WHERE published = 0 AND id <= \(bind: id)").run()
        }
    }

    static func event(_ row: any SQLRow) throws -> OrderEvent {
        OrderEvent(
            id: try row.decode(column: "id", as: Int.self), type: try row.decode(column: "type", as: String.self),
            time: try row.decode(column: "time", as: String.self), data: try row.decode(column: "data", as: String.self)
        )
    }

    /// One order, or nil.
    public func get(_ id: Int) async throws -> Order? {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT * FROM orders WHERE id = \(bind: id)").first() else { return nil }
            return try await Self.order(row, on: db)
        }
    }

    /// A page of orders, oldest first, of one user when given.
    public func list(user: String?, limit: Int, offset: Int) async throws -> (orders: [Order], total: Int) {
        try await database.withConnection { db in
            var filter = SQLQueryString("")
            if let user { filter = " WHERE user_id = \(bind: user)" }
            let total = try await db.raw("SELECT COUNT(*) AS n FROM orders" + filter).first()?.decode(column: "n", as: Int.self) ?? 0
            let rows = try await db.raw("SELECT * FROM orders" + filter + " ORDER BY id LIMIT \(bind: limit) OFFSET \(bind: offset)").all()
            var orders: [Order] = []
            for row in rows { orders.append(try await Self.order(row, on: db)) }
            return (orders, total)
        }
    }

    static func order(_ row: any SQLRow, on db: any SQLDatabase) async throws -> Order {
        let id = try row.decode(column: "id", as: Int.self)
        let lines = try await db.raw("SELECT * FROM order_lines WHERE order_id = \(bind: id) ORDER BY position").all().map { line in
            OrderLine(
                itemId: try line.decode(column: "item_id", as: Int.self), name: try line.decode(column: "name", as: String.self),
                quantity: try line.decode(column: "quantity", as: Int.self), unitPrice: try line.decode(column: "unit_price", as: Double.self)
            )
        }
        return Order(
            id: id, userId: try row.decode(column: "user_id", as: String.self), status: try row.decode(column: "status", as: String.self),
            lines: lines, total: try row.decode(column: "total", as: Double.self), createdAt: try row.decode(column: "created_at", as: String.self)
        )
    }

    static func now() -> String {
        Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// Storage failures that mean a bug, not bad input.
enum OrderStoreError: Error {
    case noRowReturned
}
