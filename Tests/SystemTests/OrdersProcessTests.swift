import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import Synchronization
import ServiceKitTesting
import Testing

/// Real users, catalog and orders processes: orders reads prices and reserves stock through
/// catalog with typed calls, stores nothing half-written, compensates from a durable record, and
/// answers retries with an `Idempotency-Key` once.
@Suite(.serialized) struct OrdersProcessTests {
    static func json(_ response: TestClient.Response) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data((response.body ?? .init()).readableBytesView)) as? [String: Any])
    }

    /// Creates an item in catalog and answers its id.
    static func item(_ catalog: ServiceProcess, _ issuer: TestIssuer, name: String, price: Double, stock: Int) async throws -> Int {
        let created = try await catalog.api("/items", method: .post, headers: issuer.bearer(), body: #"{"name": "\#(name)", "price": \#(price), "stock": \#(stock)}"#)
        #expect(created.status == .created)
        return try #require(try json(created)["id"] as? Int)
    }

    static func stock(_ catalog: ServiceProcess, _ id: Int) async throws -> Int? {
        try json(try await catalog.api("/items/\(id)"))["stock"] as? Int
    }

    static func order(_ orders: ServiceProcess, _ issuer: TestIssuer, _ lines: [(Int, Int)], key: String? = nil) async throws -> TestClient.Response {
        var headers = try issuer.bearer()
        if let key { headers[HTTPField.Name("Idempotency-Key")!] = key }
        let body = "{\"lines\": [" + lines.map { "{\"item_id\": \($0.0), \"quantity\": \($0.1)}" }.joined(separator: ", ") + "]}"
        return try await orders.api("/orders", method: .post, headers: headers, body: body)
    }

    static func withOrders<Value>(
        catalogPort: Int? = nil, _ body: (ServiceProcess, ServiceProcess, ServiceProcess, TestIssuer, String) async throws -> Value
    ) async throws -> Value {
        let folder = try TemporaryDirectory.make(prefix: "orders")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try await UsersAndCatalog.with(catalog: ["DATABASE_URL": "sqlite:///\(folder)/catalog.db", "DATA_DIR": folder]) { users, catalog, issuer in
            let environment = [
                "USERS_URL": "http://127.0.0.1:\(users.port)", "CATALOG_URL": "http://127.0.0.1:\(catalogPort ?? catalog.port)",
                "DATABASE_URL": "sqlite:///\(folder)/orders.db", "DATA_DIR": folder,
            ]
            return try await ServiceProcess.with("orders", environment: environment) { orders in
                // Behind a proxy not started yet, catalog (a required peer) is unreachable.
                if catalogPort == nil { try await orders.waitUntilReady() }
                return try await body(users, catalog, orders, issuer, folder)
            }
        }
    }

    @Test func anOrderTakesCatalogsPricesAndReservesEveryLine() async throws {
        try await Self.withOrders { _, catalog, orders, issuer, _ in
            let lamp = try await Self.item(catalog, issuer, name: "Lamp", price: 3.5, stock: 5)
            let desk = try await Self.item(catalog, issuer, name: "Desk", price: 30, stock: 1)
            let placed = try await Self.order(orders, issuer, [(lamp, 2), (desk, 1)])
            #expect(placed.status == .created)
            let order = try Self.json(placed)
            #expect(order["user_id"] as? String == "1", "the caller comes from the token")
            #expect(order["total"] as? Double == 37)
            let lines = try #require(order["lines"] as? [[String: Any]])
            #expect(lines.map { $0["name"] as? String } == ["Lamp", "Desk"])
            #expect(lines.map { $0["unit_price"] as? Double } == [3.5, 30])
            #expect(try await Self.stock(catalog, lamp) == 3)
            #expect(try await Self.stock(catalog, desk) == 0)
            let id = try #require(order["id"] as? Int)
            #expect(try Self.json(try await orders.api("/orders/\(id)"))["total"] as? Double == 37)
            let page = try Self.json(try await orders.api("/orders?user_id=1"))
            #expect(page["total"] as? Int == 1)
            #expect(try await orders.api("/orders/999").status == .notFound)
            #expect(try await orders.api("/orders", method: .post, body: #"{"lines": [{"item_id": 1, "quantity": 1}]}"#).status == .unauthorized)
        }
    }

    @Test func anOrderForTooMuchStockNamesTheItemAndLeavesEveryStockLevelAsItWas() async throws {
        try await Self.withOrders { _, catalog, orders, issuer, _ in
            let lamp = try await Self.item(catalog, issuer, name: "Lamp", price: 3.5, stock: 5)
            let desk = try await Self.item(catalog, issuer, name: "Desk", price: 30, stock: 1)
            let short = try await Self.order(orders, issuer, [(lamp, 2), (desk, 3)])
            #expect(short.status == .conflict)
            #expect((try Self.json(short)["detail"] as? String)?.contains("item \(desk) (Desk)") == true)
            #expect(try await Self.stock(catalog, lamp) == 5, "the first line's reservation was given back")
            #expect(try await Self.stock(catalog, desk) == 1)
            let unknown = try await Self.order(orders, issuer, [(lamp, 1), (424_242, 1)])
            #expect(unknown.status == .unprocessableContent)
            #expect(String(buffer: unknown.body ?? .init()).contains("424242"))
            #expect(try Self.json(try await orders.api("/orders"))["total"] as? Int == 0, "nothing was stored")
            #expect(try await Self.stock(catalog, lamp) == 5)
        }
    }

    /// Found by schemathesis through the gateway: a price near Double's maximum made the total
    /// infinite, stored and answered as null. It is a 422 now, with nothing reserved.
    @Test func anOrderWhoseTotalOverflowsIsRefusedAndReservesNothing() async throws {
        try await Self.withOrders { _, catalog, orders, issuer, _ in
            let gold = try await Self.item(catalog, issuer, name: "Gold", price: 1e308, stock: 5)
            let refused = try await Self.order(orders, issuer, [(gold, 2)])
            #expect(refused.status == .unprocessableContent, "\(refused.status)")
            #expect(try await Self.stock(catalog, gold) == 5)
            #expect(try Self.json(try await orders.api("/orders"))["total"] as? Int == 0)
        }
    }

    @Test func theSameIdempotencyKeyAnswersTheSameOrderOnceEvenWhenRequestsRace() async throws {
        try await Self.withOrders { _, catalog, orders, issuer, _ in
            let lamp = try await Self.item(catalog, issuer, name: "Lamp", price: 2, stock: 10)
            let answers = try await withThrowingTaskGroup(of: TestClient.Response.self) { group in
                for _ in 0..<6 { group.addTask { try await Self.order(orders, issuer, [(lamp, 3)], key: "retry-1") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.status == .created }, "\(answers.map(\.status))")
            let ids = Set(try answers.map { try Self.json($0)["id"] as? Int })
            #expect(ids.count == 1, "one order: \(ids)")
            #expect(answers.filter { $0.headers[HTTPField.Name("Idempotent-Replayed")!] == "true" }.count == 5)
            #expect(try await Self.stock(catalog, lamp) == 7, "reserved once")
            let again = try await Self.order(orders, issuer, [(lamp, 3)], key: "retry-1")
            #expect(try Self.json(again)["id"] as? Int == ids.first ?? nil)
            let otherBody = try await Self.order(orders, issuer, [(lamp, 4)], key: "retry-1")
            #expect(otherBody.status == .unprocessableContent)
            #expect(String(buffer: otherBody.body ?? .init()).contains(#"["header","Idempotency-Key"]"#))
            #expect(try await Self.stock(catalog, lamp) == 7)
        }
    }

    /// Catalog dies right after reserving the first line of a two-line order (a proxy kills it
    /// when the second reservation is sent), and orders itself is killed before catalog is back:
    /// the release of the first line is retried from the intent orders wrote before reserving,
    /// by the new orders process, once catalog is back. Every stock level ends where it began.
    @Test func stockReservedBeforeCatalogDiedIsGivenBackFromTheDurableRecordOnceCatalogIsBack() async throws {
        let proxyPort = try FreePort.next()
        try await Self.withOrders(catalogPort: proxyPort) { users, catalog, orders, issuer, folder in
            let lamp = try await Self.item(catalog, issuer, name: "Lamp", price: 3, stock: 5)
            let desk = try await Self.item(catalog, issuer, name: "Desk", price: 30, stock: 2)
            let proxy = try ServiceProcess(
                "/usr/bin/python3",
                arguments: [BuiltProducts.repositoryRoot + "/Tests/Tools/dying_proxy.py", "--listen", String(proxyPort), "--target", String(catalog.port), "--pid", String(catalog.pid)]
            )
            defer { proxy.signal(SIGKILL) }
            let deadline = ContinuousClock.now + .seconds(20)
            while !proxy.stdoutLines.contains("ready") {
                try #require(ContinuousClock.now < deadline, "proxy: \(proxy.stderr)")
                try await Task.sleep(for: .milliseconds(20))
            }
            try await orders.waitUntilReady()
            let failed = try await Self.order(orders, issuer, [(lamp, 2), (desk, 1)])
            #expect(failed.status.code >= 500, "catalog died mid-order: \(failed.status)")
            #expect(proxy.stdoutLines.contains("killed"))
            #expect(await catalog.waitForExit(timeout: .seconds(10)) != nil)

            // Orders dies too: what it could not release lives only in its database now.
            orders.signal(SIGKILL)
            _ = await orders.waitForExit(timeout: .seconds(10))
            let environment = [
                "USERS_URL": "http://127.0.0.1:\(users.port)", "CATALOG_URL": "http://127.0.0.1:\(proxyPort)",
                "DATABASE_URL": "sqlite:///\(folder)/orders.db", "DATA_DIR": folder,
            ]
            try await ServiceProcess.with("orders", environment: environment) { restarted in
                // Catalog back on its port and file: the new orders releases the first line.
                let catalogEnvironment = [
                    "PORT": String(catalog.port), "ADMIN_PORT": String(catalog.adminPort), "USERS_URL": "http://127.0.0.1:\(users.port)",
                    "DATABASE_URL": "sqlite:///\(folder)/catalog.db", "DATA_DIR": folder,
                ]
                try await ServiceProcess.with("catalog", environment: catalogEnvironment) { back in
                    try await back.waitUntilReady()
                    let until = ContinuousClock.now + .seconds(60)
                    while try await Self.stock(back, lamp) != 5, ContinuousClock.now < until {
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    #expect(try await Self.stock(back, lamp) == 5, "orders: \(restarted.stdoutLines.suffix(20))")
                    #expect(try await Self.stock(back, desk) == 2)
                    #expect(try Self.json(try await restarted.api("/orders"))["total"] as? Int == 0, "no half-written order")
                }
            }
        }
    }

    /// A client of `/ws/orders` that keeps every text message, until `count` have come.
    final class EventClient: Sendable {
        let texts = Mutex<[String]>([])
        let count: Int
        init(count: Int) { self.count = count }
        var received: Int { texts.withLock { $0.count } }
        /// The messages, parsed.
        func messages() throws -> [[String: Any]] {
            try texts.withLock { $0 }.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        }

        func run(port: Int, query: String) async throws {
            try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/ws/orders\(query)", logger: Logger(label: "ws-test")) { inbound, outbound, _ in
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    let done = self.texts.withLock { texts in
                        texts.append(text)
                        return texts.count >= self.count
                    }
                    if done { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
        }
    }

    static func waitFor(_ condition: () async throws -> Bool, _ what: String) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !condition() {
            try #require(ContinuousClock.now < deadline, "timed out waiting for \(what)")
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func everyClientOfTheOrdersStreamGetsEachEventAndSinceReplaysWhatItMissed() async throws {
        try await Self.withOrders { _, catalog, orders, issuer, _ in
            let lamp = try await Self.item(catalog, issuer, name: "Lamp", price: 2, stock: 10)
            let first = try Self.json(try await Self.order(orders, issuer, [(lamp, 1)]))
            let replaying = EventClient(count: 2)
            let live = EventClient(count: 1)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await replaying.run(port: orders.port, query: "?since=0") }
                group.addTask { try await live.run(port: orders.port, query: "") }
                try await Self.waitFor({ replaying.received >= 1 }, "the replay of the first order")
                try await Self.waitFor({
                    String(buffer: try await orders.admin("/metrics").body ?? .init()).contains("websocket_connections 2")
                }, "two open connections in the gauge")
                let second = try Self.json(try await Self.order(orders, issuer, [(lamp, 2)]))
                try await group.waitForAll()
                let events = try replaying.messages()
                #expect(events.map { $0["type"] as? String } == ["order.created", "order.created"])
                #expect(events.map { ($0["data"] as? [String: Any])?["id"] as? Int } == [first["id"] as? Int, second["id"] as? Int])
                let ids = events.compactMap { $0["id"] as? Int }
                #expect(ids.count == 2 && ids[0] < ids[1], "ids increase: \(ids)")
                #expect(events.allSatisfy { ($0["time"] as? String)?.hasPrefix("20") == true })
                let seenLive = try live.messages()
                #expect(seenLive.map { ($0["data"] as? [String: Any])?["id"] as? Int } == [second["id"] as? Int], "a client without since gets live events only")
            }
            try await Self.waitFor({
                String(buffer: try await orders.admin("/metrics").body ?? .init()).contains("websocket_connections 0")
            }, "the gauge back at zero")
        }
    }

    /// Two orders processes on one PostgreSQL: a client of either receives the events of orders
    /// placed on both, in id order with none missing, also when the two commit at once. The poll
    /// is set to a minute, so the events that arrive in time crossed by LISTEN/NOTIFY.
    @Test func aClientOfOneReplicaReceivesTheEventsOfOrdersPlacedOnAnother() async throws {
        try await PostgresServer.with { server in
            try await UsersAndCatalog.with { users, catalog, issuer in
                let environment = [
                    "USERS_URL": "http://127.0.0.1:\(users.port)", "CATALOG_URL": "http://127.0.0.1:\(catalog.port)", "DATABASE_URL": server.url,
                    "OUTBOX_POLL_INTERVAL": "60s",
                ]
                try await ServiceProcess.with("orders", environment: environment) { first in
                    try await first.waitUntilReady()
                    try await ServiceProcess.with("orders", environment: environment) { second in
                        try await second.waitUntilReady()
                        let lamp = try await Self.item(catalog, issuer, name: "Lamp", price: 2, stock: 100)
                        let perReplica = 6
                        let onFirst = EventClient(count: 2 * perReplica)
                        let onSecond = EventClient(count: 2 * perReplica)
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask { try await onFirst.run(port: first.port, query: "") }
                            group.addTask { try await onSecond.run(port: second.port, query: "") }
                            for replica in [first, second] {
                                try await Self.waitFor({
                                    String(buffer: try await replica.admin("/metrics").body ?? .init()).contains("websocket_connections 1")
                                }, "a client connected to each replica")
                            }
                            let placed = try await withThrowingTaskGroup(of: Int.self) { orders in
                                for index in 0..<(2 * perReplica) {
                                    orders.addTask {
                                        let response = try await Self.order(index.isMultiple(of: 2) ? first : second, issuer, [(lamp, 1)])
                                        return try #require(try Self.json(response)["id"] as? Int, "order \(index): \(response.status)")
                                    }
                                }
                                return try await orders.reduce(into: Set<Int>()) { $0.insert($1) }
                            }
                            try await Self.waitFor({ onFirst.received >= 2 * perReplica && onSecond.received >= 2 * perReplica },
                                "every event on both replicas (\(onFirst.received), \(onSecond.received)): \((first.stdoutLines + second.stdoutLines).filter { $0.contains("warning") || $0.contains("error") }.suffix(6))")
                            try await group.waitForAll()
                            for client in [onFirst, onSecond] {
                                let events = try client.messages()
                                let orderIDs = events.compactMap { ($0["data"] as? [String: Any])?["id"] as? Int }
                                #expect(Set(orderIDs) == placed, "every order's event, each once: \(orderIDs)")
                                let ids = events.compactMap { $0["id"] as? Int }
                                #expect(ids == ids.sorted() && Set(ids).count == ids.count, "in id order: \(ids)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// The whole path as a user takes it: register and sign in at users, place an order at orders
    /// with that token, see its event on the stream and the stock go down at catalog; an order for
    /// too much leaves every level as it was and stores nothing.
    @Test func aRegisteredUserPlacesAnOrderSeesItsEventAndTheStockGoesDown() async throws {
        try await Self.withOrders { users, catalog, orders, issuer, _ in
            let registered = try await users.api("/users", method: .post, body: #"{"username": "ann", "email": "ann@example.org", "password": "correct horse"}"#)
            #expect(registered.status == .created)
            let signedIn = try await users.api("/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: "username=ann&password=correct+horse")
            let token = try #require(try Self.json(signedIn)["access_token"] as? String)
            let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
            let lamp = try await Self.item(catalog, issuer, name: "Lamp", price: 2, stock: 4)
            let client = EventClient(count: 1)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run(port: orders.port, query: "") }
                try await Self.waitFor({
                    String(buffer: try await orders.admin("/metrics").body ?? .init()).contains("websocket_connections 1")
                }, "the stream's client")
                let placed = try await orders.api("/orders", method: .post, headers: bearer, body: #"{"lines": [{"item_id": \#(lamp), "quantity": 3}]}"#)
                #expect(placed.status == .created)
                let order = try Self.json(placed)
                #expect(order["user_id"] as? String == (try Self.json(registered))["id"].map { "\($0)" })
                try await group.waitForAll()
                #expect(try client.messages().first.flatMap { ($0["data"] as? [String: Any])?["id"] as? Int } == order["id"] as? Int)
            }
            #expect(try await Self.stock(catalog, lamp) == 1)
            let tooMuch = try await orders.api("/orders", method: .post, headers: bearer, body: #"{"lines": [{"item_id": \#(lamp), "quantity": 2}]}"#)
            #expect(tooMuch.status == .conflict)
            #expect(try await Self.stock(catalog, lamp) == 1)
            #expect(try Self.json(try await orders.api("/orders"))["total"] as? Int == 1)
        }
    }
}
