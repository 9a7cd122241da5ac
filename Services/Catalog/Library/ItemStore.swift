import Foundation
import ServiceKit
import SQLKit

/// The catalog's storage: items, their tags and image metadata, on SQLite or PostgreSQL.
public struct ItemStore: Injectable {
    let database: Database

    /// Items live in `database`, migrated by `CatalogMigrations`.
    public init(database: Database) {
        self.database = database
    }

    /// What a reservation came to.
    public enum ReserveOutcome: Sendable, Equatable {
        case reserved(remaining: Int)
        case insufficient(available: Int)
        case notFound
        /// The reservation id was released already: nothing is reserved under it again.
        case released
        /// The reservation id was used for another item or quantity.
        case mismatch
    }

    /// Inserts an item and its tags in one transaction.
    public func create(_ new: ItemCreate) async throws -> Item {
        let now = Self.now()
        return try await database.transaction { db in
            let row = try await db.raw("""
                INSERT INTO items (name, price, description, stock, version, created_at, updated_at)
                VALUES (\(bind: new.name), \(bind: new.price), \(bind: new.description), \(bind: new.stock), 1, \(bind: now), \(bind: now))
                RETURNING id
                """).first()
            guard let id = try row?.decode(column: "id", as: Int.self) else { throw StoreError.noRowReturned }
            try await Self.replaceTags(of: id, with: new.tags, on: db)
            return Item(id: id, name: new.name, price: new.price, description: new.description, tags: new.tags,
                        stock: new.stock, createdAt: now, updatedAt: now, version: 1)
        }
    }

    /// One item, or nil.
    public func get(_ id: Int) async throws -> Item? {
        try await database.withConnection { db in try await Self.fetch(id, on: db) }
    }

    /// A page of items matching `query` (name or description, case-insensitive) and every tag.
    public func list(query: String?, tags: [String], limit: Int, offset: Int) async throws -> (items: [Item], total: Int) {
        var filter = SQLQueryString(" WHERE 1 = 1")
        if let query, !query.isEmpty {
            let pattern = "%" + Self.escapeLike(query.lowercased()) + "%"
            filter += " AND (LOWER(name) LIKE \(bind: pattern) ESCAPE '!' OR LOWER(COALESCE(description, '')) LIKE \(bind: pattern) ESCAPE '!')"
        }
        for tag in tags {
            filter += " AND EXISTS (SELECT 1 FROM item_tags t WHERE t.item_id = items.id AND t.tag = \(bind: tag))"
        }
        return try await database.withConnection { db in
            let countRow = try await db.raw("SELECT COUNT(*) AS total FROM items" + filter).first()
            let total = try countRow?.decode(column: "total", as: Int.self) ?? 0
            let rows = try await db.raw("SELECT * FROM items" + filter + " ORDER BY id LIMIT \(bind: limit) OFFSET \(bind: offset)").all()
            let items = try await Self.items(from: rows, on: db)
            return (items, total)
        }
    }

    /// Applies the fields present in `patch`; nil when there is no such item.
    public func update(_ id: Int, with patch: ItemPatch) async throws -> Item? {
        try await database.transaction { db in
            guard var item = try await Self.fetch(id, on: db) else { return nil }
            if let name = patch.name { item.name = name }
            if let price = patch.price { item.price = price }
            switch patch.description {
            case .unchanged: break
            case .cleared: item.description = nil
            case .set(let text): item.description = text
            }
            if let stock = patch.stock { item.stock = stock }
            item.updatedAt = Self.now()
            item.version += 1
            try await db.raw("""
                UPDATE items SET name = \(bind: item.name), price = \(bind: item.price), description = \(bind: item.description),
                stock = \(bind: item.stock), version = \(bind: item.version), updated_at = \(bind: item.updatedAt)
                WHERE id = \(bind: id)
                """).run()
            if let tags = patch.tags {
                try await Self.replaceTags(of: id, with: tags, on: db)
                item.tags = tags
            }
            return item
        }
    }

    /// Deletes an item (tags and image metadata go with it); false when there was none.
    public func delete(_ id: Int) async throws -> Bool {
        try await database.transaction { db in
            guard try await db.raw("SELECT id FROM items WHERE id = \(bind: id)").first() != nil else { return false }
            // Explicit, so it does not depend on SQLite's foreign key enforcement being on.
            try await db.raw("DELETE FROM item_tags WHERE item_id = \(bind: id)").run()
            try await db.raw("DELETE FROM item_images WHERE item_id = \(bind: id)").run()
            try await db.raw("DELETE FROM items WHERE id = \(bind: id)").run()
            return true
        }
    }

    /// Takes `quantity` from stock in one conditional statement, so concurrent reservations can
    /// never sell more than there is.
    public func reserve(_ id: Int, quantity: Int, reservationID: String? = nil) async throws -> ReserveOutcome {
        let now = Self.now()
        return try await database.transaction { db in
            if let reservationID {
                // The id is claimed first: of two calls racing with one id, the second waits for
                // the first's commit and then finds the row. A retry reserves nothing more, and an
                // id released (even before it arrived) reserves nothing at all.
                let claimed = try await db.raw("""
                    INSERT INTO item_reservations (reservation_id, item_id, quantity, released, created_at)
                    VALUES (\(bind: reservationID), \(bind: id), \(bind: quantity), 0, \(bind: now))
                    ON CONFLICT DO NOTHING RETURNING reservation_id
                    """).first()
                if claimed == nil {
                    guard let known = try await db.raw("SELECT item_id, quantity, released FROM item_reservations WHERE reservation_id = \(bind: reservationID)").first() else {
                        throw StoreError.noRowReturned
                    }
                    guard try known.decode(column: "item_id", as: Int.self) == id, try known.decode(column: "quantity", as: Int.self) == quantity else {
                        return .mismatch
                    }
                    guard try known.decode(column: "released", as: Int.self) == 0 else { return .released }
                    let stock = try await db.raw("SELECT stock FROM items WHERE id = \(bind: id)").first()?.decode(column: "stock", as: Int.self)
                    return stock.map { .reserved(remaining: $0) } ?? .notFound
                }
            }
            let row = try await db.raw("""
                UPDATE items SET stock = stock - \(bind: quantity), version = version + 1, updated_at = \(bind: now)
                WHERE id = \(bind: id) AND stock >= \(bind: quantity)
                RETURNING stock
                """).first()
            if let remaining = try row?.decode(column: "stock", as: Int.self) {
                return .reserved(remaining: remaining)
            }
            if let reservationID {
                // Nothing was reserved: the id stays free for a later attempt.
                try await db.raw("DELETE FROM item_reservations WHERE reservation_id = \(bind: reservationID)").run()
            }
            guard let current = try await db.raw("SELECT stock FROM items WHERE id = \(bind: id)").first() else {
                return .notFound
            }
            return .insufficient(available: try current.decode(column: "stock", as: Int.self))
        }
    }

    /// What a release came to.
    public enum ReleaseOutcome: Sendable, Equatable {
        /// The stock now, with `released` given back (0 when the reservation was released before).
        case released(quantity: Int, stock: Int)
        case notFound
        /// The reservation is for another item or quantity.
        case mismatch
    }

    /// Gives `quantity` back to an item's stock. With a reservation id it releases that
    /// reservation exactly once (a retry gives nothing more back), and an id never reserved is
    /// remembered as released, so a reservation that arrives late reserves nothing: retried
    /// compensation can neither lose stock nor make it up.
    public func release(_ id: Int, quantity: Int, reservationID: String? = nil) async throws -> ReleaseOutcome {
        let now = Self.now()
        return try await database.transaction { db in
            var giveBack = quantity
            if let reservationID {
                let tombstone = try await db.raw("""
                    INSERT INTO item_reservations (reservation_id, item_id, quantity, released, created_at)
                    VALUES (\(bind: reservationID), \(bind: id), \(bind: quantity), 1, \(bind: now))
                    ON CONFLICT DO NOTHING RETURNING reservation_id
                    """).first()
                if tombstone != nil {
                    giveBack = 0
                } else {
                    guard let known = try await db.raw("SELECT item_id, quantity FROM item_reservations WHERE reservation_id = \(bind: reservationID)").first() else {
                        throw StoreError.noRowReturned
                    }
                    guard try known.decode(column: "item_id", as: Int.self) == id, try known.decode(column: "quantity", as: Int.self) == quantity else {
                        return .mismatch
                    }
                    let flipped = try await db.raw("""
                        UPDATE item_reservations SET released = 1 WHERE reservation_id = \(bind: reservationID) AND released = 0
                        RETURNING reservation_id
                        """).first()
                    if flipped == nil { giveBack = 0 }
                }
            }
            let row = try await db.raw("""
                UPDATE items SET stock = stock + \(bind: giveBack), version = version + \(bind: giveBack == 0 ? 0 : 1), updated_at = \(bind: now)
                WHERE id = \(bind: id)
                RETURNING stock
                """).first()
            guard let stock = try row?.decode(column: "stock", as: Int.self) else { return .notFound }
            return .released(quantity: giveBack, stock: stock)
        }
    }

    /// Records the image stored for an item, replacing any earlier one.
    public func saveImage(of id: Int, _ info: ImageInfo) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM item_images WHERE item_id = \(bind: id)").run()
            try await db.raw("""
                INSERT INTO item_images (item_id, filename, content_type, size, stored_at)
                VALUES (\(bind: id), \(bind: info.filename), \(bind: info.contentType), \(bind: info.size), \(bind: Self.now()))
                """).run()
        }
    }

    /// The image recorded for an item, if any.
    public func image(of id: Int) async throws -> ImageInfo? {
        try await database.withConnection { db in
            guard let row = try await db.raw("SELECT filename, content_type, size FROM item_images WHERE item_id = \(bind: id)").first() else {
                return nil
            }
            return ImageInfo(
                filename: try row.decode(column: "filename", as: String.self),
                contentType: try row.decode(column: "content_type", as: String.self),
                size: try row.decode(column: "size", as: Int.self)
            )
        }
    }

    // MARK: helpers

    private static func fetch(_ id: Int, on db: any SQLDatabase) async throws -> Item? {
        let rows = try await db.raw("SELECT * FROM items WHERE id = \(bind: id)").all()
        return try await items(from: rows, on: db).first
    }

    private static func items(from rows: [any SQLRow], on db: any SQLDatabase) async throws -> [Item] {
        guard !rows.isEmpty else { return [] }
        var items = try rows.map { row in
            Item(
                id: try row.decode(column: "id", as: Int.self),
                name: try row.decode(column: "name", as: String.self),
                price: try row.decode(column: "price", as: Double.self),
                description: try row.decode(column: "description", as: String?.self),
                tags: [],
                stock: try row.decode(column: "stock", as: Int.self),
                createdAt: try row.decode(column: "created_at", as: String.self),
                updatedAt: try row.decode(column: "updated_at", as: String.self),
                version: try row.decode(column: "version", as: Int.self)
            )
        }
        let ids: [any Encodable & Sendable] = items.map(\.id)
        let tagRows = try await db.raw("SELECT item_id, tag FROM item_tags WHERE item_id IN (\(binds: ids)) ORDER BY item_id, position").all()
        var tags: [Int: [String]] = [:]
        for row in tagRows {
            tags[try row.decode(column: "item_id", as: Int.self), default: []].append(try row.decode(column: "tag", as: String.self))
        }
        for index in items.indices { items[index].tags = tags[items[index].id] ?? [] }
        return items
    }

    private static func replaceTags(of id: Int, with tags: [String], on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM item_tags WHERE item_id = \(bind: id)").run()
        for (position, tag) in tags.enumerated() {
            try await db.raw("INSERT INTO item_tags (item_id, position, tag) VALUES (\(bind: id), \(bind: position), \(bind: tag))").run()
        }
    }

    static func escapeLike(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "!" || character == "%" || character == "_" { escaped.append("!") }
            escaped.append(character)
        }
        return escaped
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func now() -> String {
        Date().formatted(timestampStyle)
    }
}

/// Storage failures that mean a bug, not bad input.
enum StoreError: Error {
    case noRowReturned
}
