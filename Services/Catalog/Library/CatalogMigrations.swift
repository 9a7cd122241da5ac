import ServiceKit
import SQLKit

/// The catalog's schema, one version at a time. Never edit an applied migration: add one.
enum CatalogMigrations {
    static let all: [Migration] = [
        Migration(1, "create items") { db, engine in
            try await db.raw("""
                CREATE TABLE items (
                    id \(unsafeRaw: engine.identityColumn),
                    name TEXT NOT NULL,
                    price DOUBLE PRECISION NOT NULL CHECK (price > 0),
                    description TEXT,
                    stock BIGINT NOT NULL CHECK (stock >= 0),
                    version BIGINT NOT NULL DEFAULT 1,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL)
                """).run()
            try await db.raw("""
                CREATE TABLE item_tags (
                    item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    tag TEXT NOT NULL,
                    PRIMARY KEY (item_id, position))
                """).run()
            try await db.raw("CREATE INDEX item_tags_by_tag ON item_tags (tag)").run()
        },
        Migration(2, "create item images", statements: [
            """
            CREATE TABLE item_images (
                item_id BIGINT PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
                filename TEXT NOT NULL,
                content_type TEXT NOT NULL,
                size BIGINT NOT NULL,
                stored_at TEXT NOT NULL)
            """
        ]),
        // Reservations by the caller's id, so reserve and release can be retried safely.
        Migration(3, "create item reservations", statements: [
            """
            CREATE TABLE item_reservations (
                reservation_id TEXT PRIMARY KEY,
                item_id BIGINT NOT NULL,
                quantity BIGINT NOT NULL,
                released INTEGER NOT NULL,
                created_at TEXT NOT NULL)
            """
        ]),
    ]
}
