import ServiceKit
import SQLKit

/// The orders schema, one version at a time. Never edit an applied migration: add one.
enum OrdersMigrations {
    static let all: [Migration] = [
        Migration(1, "create orders") { db, engine in
            try await db.raw("""
                CREATE TABLE orders (
                    id \(unsafeRaw: engine.identityColumn),
                    user_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    total DOUBLE PRECISION NOT NULL,
                    created_at TEXT NOT NULL)
                """).run()
            try await db.raw("CREATE INDEX orders_by_user ON orders (user_id, id)").run()
            try await db.raw("""
                CREATE TABLE order_lines (
                    order_id BIGINT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    item_id BIGINT NOT NULL,
                    name TEXT NOT NULL,
                    quantity BIGINT NOT NULL,
                    unit_price DOUBLE PRECISION NOT NULL,
                    PRIMARY KEY (order_id, position))
                """).run()
            // A key belongs to its caller; the row is claimed before any stock is reserved.
            try await db.raw("""
                CREATE TABLE idempotency_keys (
                    user_id TEXT NOT NULL,
                    key TEXT NOT NULL,
                    body_hash TEXT NOT NULL,
                    order_id BIGINT,
                    created_at TEXT NOT NULL,
                    PRIMARY KEY (user_id, key))
                """).run()
            // Reservations made for an order not (yet) stored: written before each reserve, deleted
            // with the order's commit, released (and retried until catalog takes it) otherwise.
            try await db.raw("""
                CREATE TABLE reservation_intents (
                    reservation_id TEXT PRIMARY KEY,
                    attempt TEXT NOT NULL,
                    item_id BIGINT NOT NULL,
                    quantity BIGINT NOT NULL,
                    releasing INTEGER NOT NULL,
                    authorization_header TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0)
                """).run()
        },
        // Events written in the order's own transaction and published from here (at least once).
        Migration(2, "create outbox") { db, engine in
            try await db.raw("""
                CREATE TABLE outbox (
                    id \(unsafeRaw: engine.identityColumn),
                    type TEXT NOT NULL,
                    time TEXT NOT NULL,
                    data TEXT NOT NULL,
                    published INTEGER NOT NULL DEFAULT 0)
                """).run()
            try await db.raw("CREATE INDEX outbox_unpublished ON outbox (published, id)").run()
        },
    ]
}
