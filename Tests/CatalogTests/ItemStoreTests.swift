import Catalog
import Foundation
import Logging
import ServiceKit
import ServiceKitTesting
import Testing

/// The catalog's storage, the same tests on SQLite and PostgreSQL.
@Suite struct ItemStoreTests {
    /// A migrated catalog database on `engine`, closed (and the server stopped) afterwards.
    func withStore(_ engine: SQLEngine, _ body: (ItemStore) async throws -> Void) async throws {
        func run(_ url: DatabaseURL?) async throws {
            try await InProcessService.with(CatalogService.definition, database: url) { service in
                try await body(ItemStore(database: service.runtime.database))
            }
        }
        switch engine {
        case .sqlite: try await run(nil)
        case .postgres: try await PostgresServer.with { server in try await run(try DatabaseURL(parsing: server.url)) }
        }
    }

    @Test(arguments: [SQLEngine.sqlite, .postgres])
    func itemsAreCreatedReadChangedAndDeleted(engine: SQLEngine) async throws {
        try await withStore(engine) { store in
            let created = try await store.create(ItemCreate(name: "Lamp", price: 19.5, description: "Warm light", tags: ["home", "light"], stock: 4))
            #expect(created.id > 0)
            let read = try #require(try await store.get(created.id))
            #expect(read == created)
            #expect(read.tags == ["home", "light"])

            let changed = try #require(try await store.update(created.id, with: ItemPatch(price: 21, description: .cleared, tags: ["home"])))
            #expect(changed.name == "Lamp")
            #expect(changed.price == 21)
            #expect(changed.description == nil)
            #expect(changed.tags == ["home"])
            #expect(changed.etag != created.etag)
            #expect(try await store.get(created.id) == changed)

            #expect(try await store.delete(created.id))
            #expect(try await store.get(created.id) == nil)
            #expect(try await !store.delete(created.id))
            #expect(try await store.update(created.id, with: ItemPatch(name: "x")) == nil)
        }
    }

    @Test(arguments: [SQLEngine.sqlite, .postgres])
    func listingFiltersByTextAndEveryTagAndCountsTheTotal(engine: SQLEngine) async throws {
        try await withStore(engine) { store in
            _ = try await store.create(ItemCreate(name: "Red Chair", price: 40, tags: ["furniture", "red"], stock: 1))
            _ = try await store.create(ItemCreate(name: "Blue Chair", price: 45, description: "comfy", tags: ["furniture", "blue"], stock: 1))
            _ = try await store.create(ItemCreate(name: "Red Mug", price: 8, tags: ["kitchen", "red"], stock: 1))
            _ = try await store.create(ItemCreate(name: "100% cotton_towel", price: 9, tags: [], stock: 1))

            let chairs = try await store.list(query: "chair", tags: [], limit: 50, offset: 0)
            #expect(chairs.total == 2)
            #expect(chairs.items.map(\.name) == ["Red Chair", "Blue Chair"])
            let redFurniture = try await store.list(query: nil, tags: ["red", "furniture"], limit: 50, offset: 0)
            #expect(redFurniture.items.map(\.name) == ["Red Chair"])
            let byDescription = try await store.list(query: "COMFY", tags: [], limit: 50, offset: 0)
            #expect(byDescription.items.map(\.name) == ["Blue Chair"])
            let literalPercent = try await store.list(query: "0% c", tags: [], limit: 50, offset: 0)
            #expect(literalPercent.items.map(\.name) == ["100% cotton_towel"])
            #expect(try await store.list(query: "n_t", tags: [], limit: 50, offset: 0).total == 1)
            let page = try await store.list(query: nil, tags: [], limit: 2, offset: 1)
            #expect(page.total == 4)
            #expect(page.items.map(\.name) == ["Blue Chair", "Red Mug"])
        }
    }

    @Test(arguments: [SQLEngine.sqlite, .postgres])
    func concurrentReservationsSellExactlyTheStock(engine: SQLEngine) async throws {
        try await withStore(engine) { store in
            let item = try await store.create(ItemCreate(name: "Ticket", price: 10, stock: 50))
            let outcomes = try await withThrowingTaskGroup(of: ItemStore.ReserveOutcome.self) { group in
                for _ in 0..<200 {
                    group.addTask { try await store.reserve(item.id, quantity: 1) }
                }
                var collected: [ItemStore.ReserveOutcome] = []
                for try await outcome in group { collected.append(outcome) }
                return collected
            }
            let sold = outcomes.filter { if case .reserved = $0 { return true } else { return false } }
            #expect(sold.count == 50)
            #expect(outcomes.count - sold.count == 150)
            #expect(try await store.get(item.id)?.stock == 0)
            #expect(try await store.reserve(item.id, quantity: 1) == .insufficient(available: 0))
            #expect(try await store.reserve(999_999, quantity: 1) == .notFound)
        }
    }

    @Test(arguments: [SQLEngine.sqlite, .postgres])
    func concurrentWritesAllSucceed(engine: SQLEngine) async throws {
        try await withStore(engine) { store in
            let ids = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let item = try await store.create(ItemCreate(name: "Item \(index)", price: 1, tags: ["a", "b"], stock: 5))
                        _ = try await store.update(item.id, with: ItemPatch(stock: 6))
                        return item.id
                    }
                }
                var collected: [Int] = []
                for try await id in group { collected.append(id) }
                return collected
            }
            #expect(Set(ids).count == 40)
            #expect(try await store.list(query: nil, tags: ["b"], limit: 100, offset: 0).total == 40)
        }
    }
}

/// Reservations with the caller's id: the retries compensation depends on.
@Suite struct ReservationIDTests {
    func withStore(_ engine: SQLEngine, _ body: (ItemStore) async throws -> Void) async throws {
        try await ItemStoreTests().withStore(engine, body)
    }

    @Test(arguments: [SQLEngine.sqlite, .postgres])
    func aReservationAndItsReleaseEachTakeEffectOnceHoweverOftenTheyAreSent(engine: SQLEngine) async throws {
        try await withStore(engine) { store in
            let item = try await store.create(ItemCreate(name: "Lamp", price: 3, stock: 10))
            // Eight copies of one reservation at once: one takes stock, the others see it.
            let outcomes = try await withThrowingTaskGroup(of: ItemStore.ReserveOutcome.self) { group in
                for _ in 0..<8 { group.addTask { try await store.reserve(item.id, quantity: 3, reservationID: "order-1:0") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0 == .reserved(remaining: 7) }, "\(outcomes)")
            #expect(try await store.get(item.id)?.stock == 7)
            #expect(try await store.reserve(item.id, quantity: 4, reservationID: "order-1:0") == .mismatch)

            let releases = try await withThrowingTaskGroup(of: ItemStore.ReleaseOutcome.self) { group in
                for _ in 0..<8 { group.addTask { try await store.release(item.id, quantity: 3, reservationID: "order-1:0") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(releases.filter { $0 == .released(quantity: 3, stock: 10) }.count == 1, "\(releases)")
            #expect(releases.filter { $0 == .released(quantity: 0, stock: 10) }.count == 7)
            #expect(try await store.get(item.id)?.stock == 10)
            #expect(try await store.reserve(item.id, quantity: 3, reservationID: "order-1:0") == .released, "a released id reserves nothing")
        }
    }

    @Test(arguments: [SQLEngine.sqlite, .postgres])
    func aReleaseThatOvertakesItsReservationLeavesTheStockAlone(engine: SQLEngine) async throws {
        try await withStore(engine) { store in
            let item = try await store.create(ItemCreate(name: "Lamp", price: 3, stock: 5))
            #expect(try await store.release(item.id, quantity: 2, reservationID: "late") == .released(quantity: 0, stock: 5))
            #expect(try await store.reserve(item.id, quantity: 2, reservationID: "late") == .released)
            #expect(try await store.get(item.id)?.stock == 5)
            // A short reservation leaves its id free for a later try.
            #expect(try await store.reserve(item.id, quantity: 9, reservationID: "short") == .insufficient(available: 5))
            #expect(try await store.reserve(item.id, quantity: 5, reservationID: "short") == .reserved(remaining: 0))
        }
    }
}
