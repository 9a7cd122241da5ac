import FleetTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import ServiceKitTesting
import Testing

/// The fleet of four as real processes, the gateway in front: aggregations under one deadline,
/// degraded answers when a peer is down, hanging (SIGSTOP) or failing, the circuit breaker,
/// `/api/status`, one trace across every process, and the fleet's one document.
@Suite(.serialized) struct GatewayProcessTests {
    /// Users, catalog and orders on SQLite files, and a gateway in front of them.
    struct Fleet {
        let users: ServiceProcess
        let catalog: ServiceProcess
        let orders: ServiceProcess
        let gateway: ServiceProcess
        let issuer: TestIssuer
    }

    /// Starts the fleet; `peerURLs` replaces the URL the gateway uses for a service (a proxy in
    /// front of it), `gateway` adds to the gateway's environment.
    static func withFleet<Value>(
        gateway extra: [String: String] = [:], peerURLs: @escaping (ServiceProcess, ServiceProcess, ServiceProcess) -> [String: String] = { _, _, _ in [:] },
        _ body: (Fleet) async throws -> Value
    ) async throws -> Value {
        let folder = try TemporaryDirectory.make(prefix: "gateway")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try await UsersAndCatalog.with(
            users: ["DATABASE_URL": "sqlite:///\(folder)/users.db", "DATA_DIR": folder],
            catalog: ["DATABASE_URL": "sqlite:///\(folder)/catalog.db", "DATA_DIR": folder]
        ) { users, catalog, issuer in
            let ordersEnvironment = [
                "USERS_URL": "http://127.0.0.1:\(users.port)", "CATALOG_URL": "http://127.0.0.1:\(catalog.port)",
                "DATABASE_URL": "sqlite:///\(folder)/orders.db", "DATA_DIR": folder,
            ]
            return try await ServiceProcess.with("orders", environment: ordersEnvironment) { orders in
                try await orders.waitUntilReady()
                var environment = [
                    "USERS_URL": "http://127.0.0.1:\(users.port)", "CATALOG_URL": "http://127.0.0.1:\(catalog.port)",
                    "ORDERS_URL": "http://127.0.0.1:\(orders.port)",
                    "USERS_ADMIN_URL": "http://127.0.0.1:\(users.adminPort)", "CATALOG_ADMIN_URL": "http://127.0.0.1:\(catalog.adminPort)",
                    "ORDERS_ADMIN_URL": "http://127.0.0.1:\(orders.adminPort)",
                    "DATABASE_URL": "sqlite:///\(folder)/gateway.db", "DATA_DIR": folder,
                ]
                environment.merge(peerURLs(users, catalog, orders)) { $1 }
                environment.merge(extra) { $1 }
                return try await ServiceProcess.with("gateway", environment: environment) { gateway in
                    try await gateway.waitUntilReady()
                    return try await body(Fleet(users: users, catalog: catalog, orders: orders, gateway: gateway, issuer: issuer))
                }
            }
        }
    }

    /// A `slow_proxy.py` on a free port in front of `target` (or failing every request).
    static func withProxy<Value>(
        to target: Int, delay: Double = 0, failing: Bool = false, port: Int? = nil, _ body: (ServiceProcess, Int) async throws -> Value
    ) async throws -> Value {
        let port = try port ?? FreePort.next()
        var arguments = [BuiltProducts.repositoryRoot + "/Tests/Tools/slow_proxy.py", "--listen", String(port), "--target", String(target), "--delay", String(delay)]
        if failing { arguments.append("--fail") }
        let proxy = try ServiceProcess("/usr/bin/python3", arguments: arguments)
        defer { proxy.signal(SIGKILL) }
        let deadline = ContinuousClock.now + .seconds(20)
        while !proxy.stdoutLines.contains("ready") {
            try #require(ContinuousClock.now < deadline, "proxy: \(proxy.stderr)")
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await body(proxy, port)
    }

    /// Registers a user at users (through the gateway when given) and answers its id.
    static func register(_ service: ServiceProcess, _ name: String) async throws -> Int {
        let created = try await service.api(
            "/users", method: .post, headers: [.contentType: "application/json"],
            body: #"{"username": "\#(name)", "email": "\#(name)@example.com", "password": "correct horse"}"#)
        #expect(created.status == .created, "\(created.status)")
        return try #require(try OrdersProcessTests.json(created)["id"] as? Int)
    }

    /// A user with one order of one item, placed directly at the services.
    static func seed(_ fleet: Fleet) async throws -> Int {
        let user = try await register(fleet.users, "ada")
        let lamp = try await OrdersProcessTests.item(fleet.catalog, fleet.issuer, name: "Lamp", price: 2, stock: 10)
        var headers = try fleet.issuer.bearer(subject: String(user))
        headers[.contentType] = "application/json"
        let placed = try await fleet.orders.api("/orders", method: .post, headers: headers, body: #"{"lines": [{"item_id": \#(lamp), "quantity": 1}]}"#)
        #expect(placed.status == .created, "\(placed.status)")
        return user
    }

    static func timed<T>(_ work: () async throws -> T) async throws -> (T, Duration) {
        let started = ContinuousClock.now
        let value = try await work()
        return (value, ContinuousClock.now - started)
    }

    @Test func anAggregationTakesAsLongAsItsSlowestPeerNotTheSum() async throws {
        try await Self.withFleet { plain in
            let user = try await Self.seed(plain)
            // The same fleet behind a second gateway whose catalog and orders answer a second late.
            try await Self.withProxy(to: plain.catalog.port, delay: 1) { _, catalogPort in
                try await Self.withProxy(to: plain.orders.port, delay: 1) { _, ordersPort in
                    let environment = [
                        "USERS_URL": "http://127.0.0.1:\(plain.users.port)", "CATALOG_URL": "http://127.0.0.1:\(catalogPort)",
                        "ORDERS_URL": "http://127.0.0.1:\(ordersPort)", "PEER_TIMEOUT": "5s",
                    ]
                    try await ServiceProcess.with("gateway", environment: environment) { gateway in
                        try await gateway.waitUntilReady()
                        for path in ["/api/users/\(user)/dashboard", "/api/overview"] {
                            let (answer, elapsed) = try await Self.timed { try await gateway.api(path) }
                            #expect(answer.status == .ok, "\(path): \(answer.status)")
                            let body = try OrdersProcessTests.json(answer)
                            #expect(body["degraded"] as? [String] == [], "\(path): \(body)")
                            #expect(elapsed >= .seconds(1), "\(path) waited for its slow peers: \(elapsed)")
                            #expect(elapsed < .milliseconds(1800), "\(path): two 1 s peers at once, not one after the other: \(elapsed)")
                        }
                    }
                }
            }
        }
    }

    /// With a request budget shorter than `PEER_TIMEOUT`, the budget is the deadline, and the
    /// degraded answer still comes before the request itself would time out (504).
    @Test func theRequestsOwnBudgetIsTheDeadlineWhenItIsShorter() async throws {
        try await Self.withFleet { plain in
            try await Self.withProxy(to: plain.catalog.port, delay: 6) { _, catalogPort in
                let environment = [
                    "USERS_URL": "http://127.0.0.1:\(plain.users.port)", "CATALOG_URL": "http://127.0.0.1:\(catalogPort)",
                    "ORDERS_URL": "http://127.0.0.1:\(plain.orders.port)", "PEER_TIMEOUT": "20s", "REQUEST_TIMEOUT": "2s",
                ]
                try await ServiceProcess.with("gateway", environment: environment) { gateway in
                    try await gateway.waitUntilReady()
                    let (answer, elapsed) = try await Self.timed { try await gateway.api("/api/overview") }
                    #expect(answer.status == .ok, "degraded, not 504: \(answer.status)")
                    #expect(try OrdersProcessTests.json(answer)["degraded"] as? [String] == ["catalog"])
                    #expect(elapsed < .milliseconds(4500), "by the 2 s budget, not catalog's 6 s nor PEER_TIMEOUT: \(elapsed)")
                }
            }
        }
    }

    @Test func aPeerThatFailsHangsOrIsDownIsNamedInDegradedWithinTheDeadline() async throws {
        // catalog reached through a proxy that answers 500 to everything; PEER_TIMEOUT 1 s.
        let failingPort = try FreePort.next()
        try await Self.withFleet(gateway: ["PEER_TIMEOUT": "1s"], peerURLs: { _, _, _ in ["CATALOG_URL": "http://127.0.0.1:\(failingPort)"] }) { fleet in
            let user = try await Self.seed(fleet)
            try await Self.withProxy(to: 0, failing: true, port: failingPort) { failing, _ in
                let overview = try OrdersProcessTests.json(try await fleet.gateway.api("/api/overview"))
                #expect(overview["degraded"] as? [String] == ["catalog"], "5xx: \(overview)")
                #expect(overview["users"] as? Int == 1 && overview["orders"] as? Int == 1 && overview["items"] is NSNull)

                // orders hangs (SIGSTOP): the answer still comes by the deadline.
                kill(fleet.orders.pid, SIGSTOP)
                defer { kill(fleet.orders.pid, SIGCONT) }
                let (answer, elapsed) = try await Self.timed { try await fleet.gateway.api("/api/users/\(user)/dashboard") }
                kill(fleet.orders.pid, SIGCONT)
                #expect(answer.status == .ok)
                let dashboard = try OrdersProcessTests.json(answer)
                #expect(Set(dashboard["degraded"] as? [String] ?? []) == ["orders", "catalog"], "\(dashboard)")
                #expect((dashboard["user"] as? [String: Any])?["id"] as? Int == user)
                #expect(dashboard["orders"] is NSNull)
                #expect(elapsed < .seconds(3), "within PEER_TIMEOUT (1 s) and some slack: \(elapsed)")

                // catalog down (nothing listens): degraded at once, and the gateway stays ready.
                failing.signal(SIGKILL)
                _ = await failing.waitForExit(timeout: .seconds(10))
                try await OrdersProcessTests.waitFor({
                    let overview = try OrdersProcessTests.json(try await fleet.gateway.api("/api/overview"))
                    return overview["degraded"] as? [String] == ["catalog"] && overview["orders"] as? Int == 1
                }, "catalog degraded and orders back")
                #expect(try await fleet.gateway.admin("/readyz").status == .ok, "a peer down does not make the gateway unready")
            }
        }
    }

    @Test func theCircuitOpensOnADeadPeerAndClosesOnceItIsBack() async throws {
        let relayPort = try FreePort.next()
        try await Self.withFleet(gateway: ["PEER_TIMEOUT": "1s"], peerURLs: { _, _, _ in ["CATALOG_URL": "http://127.0.0.1:\(relayPort)"] }) { fleet in
            // Calls pass while the relay runs.
            try await Self.withProxy(to: fleet.catalog.port, port: relayPort) { _, _ in
                let overview = try OrdersProcessTests.json(try await fleet.gateway.api("/api/overview"))
                #expect(overview["degraded"] as? [String] == [])
            }
            // The relay is gone: after a few failures the breaker stops calling catalog at all.
            for _ in 0..<8 {
                let overview = try OrdersProcessTests.json(try await fleet.gateway.api("/api/overview"))
                #expect(overview["degraded"] as? [String] == ["catalog"])
            }
            let metrics = String(buffer: try await fleet.gateway.admin("/metrics").body ?? .init())
            let refused = metrics.split(separator: "\n").filter {
                $0.hasPrefix("http_client_requests_total{") && $0.contains(#"peer="catalog""#) && $0.contains(#"error_type="circuit_open""#)
            }
            #expect(!refused.isEmpty, "calls refused by the open circuit are counted: \(metrics.split(separator: "\n").filter { $0.contains("catalog") })")
            // catalog is back on the same address: within the breaker's open time (5 s) and a
            // probe, aggregations include it again.
            try await Self.withProxy(to: fleet.catalog.port, port: relayPort) { _, _ in
                try await OrdersProcessTests.waitFor({
                    let overview = try OrdersProcessTests.json(try await fleet.gateway.api("/api/overview"))
                    return overview["degraded"] as? [String] == [] && overview["items"] as? Int == 0
                }, "catalog let through again")
            }
        }
    }

    @Test func aDashboardIs404ForAnUnknownUser504WhenUsersHangsAnd503WhenItIsDown() async throws {
        try await Self.withFleet(gateway: ["PEER_TIMEOUT": "1s"]) { fleet in
            let unknown = try await fleet.gateway.api("/api/users/999/dashboard")
            #expect(unknown.status == .notFound)
            #expect(try OrdersProcessTests.json(unknown)["detail"] as? String == "User not found")

            kill(fleet.users.pid, SIGSTOP)
            let late = try await fleet.gateway.api("/api/users/1/dashboard")
            kill(fleet.users.pid, SIGCONT)
            #expect(late.status == .gatewayTimeout)
            #expect(try OrdersProcessTests.json(late)["detail"] as? String == "users did not answer in time")

            #expect(await fleet.users.stop() == 0)
            let down = try await fleet.gateway.api("/api/users/1/dashboard")
            #expect(down.status == .serviceUnavailable)
            #expect(try OrdersProcessTests.json(down)["detail"] as? String == "users is unavailable")
            let overview = try OrdersProcessTests.json(try await fleet.gateway.api("/api/overview"))
            #expect(overview["degraded"] as? [String] == ["users"], "only users is missing from the overview: \(overview)")
            #expect(try await fleet.gateway.admin("/readyz").status == .ok)
        }
    }

    @Test func statusListsEveryServiceWithItsReadinessVersionRevisionAndLatency() async throws {
        try await Self.withFleet { fleet in
            let status = try OrdersProcessTests.json(try await fleet.gateway.api("/api/status"))
            let services = try #require(status["services"] as? [[String: Any]])
            #expect(services.map { $0["name"] as? String } == ["users", "catalog", "orders"])
            for service in services {
                #expect(service["ready"] as? Bool == true, "\(service)")
                #expect((service["version"] as? String)?.isEmpty == false, "\(service)")
                #expect((service["revision"] as? String)?.isEmpty == false, "\(service)")
                #expect((service["latency_ms"] as? Double ?? 0) > 0, "\(service)")
            }
            #expect(status["degraded"] as? [String] == [])
            #expect(await fleet.orders.stop() == 0)
            let after = try OrdersProcessTests.json(try await fleet.gateway.api("/api/status"))
            let orders = (after["services"] as? [[String: Any]])?.first { $0["name"] as? String == "orders" }
            #expect(orders?["ready"] as? Bool == false)
            #expect(after["degraded"] as? [String] == ["orders"])
        }
    }

    @Test func oneRequestToTheGatewayIsOneTraceInTheLogsOfAllFourProcesses() async throws {
        try await Self.withFleet { fleet in
            let user = try await Self.seed(fleet)
            let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
            let parent = "00f067aa0ba902b7"
            let answer = try await fleet.gateway.api(
                "/api/users/\(user)/dashboard", headers: [.traceparent: "00-\(trace)-\(parent)-01", HTTPField.Name("X-Request-ID")!: "one-trace-test"])
            #expect(answer.status == .ok)
            // Access lines are written after each response: wait for all four.
            func spans(_ process: ServiceProcess) -> [String] {
                process.stdoutLines.compactMap { line in
                    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                        object["msg"] as? String == "request", object["trace_id"] as? String == trace
                    else { return nil }
                    #expect(object["request_id"] as? String == "one-trace-test", "the request id travels too: \(line)")
                    return object["span_id"] as? String
                }
            }
            let processes = [fleet.gateway, fleet.users, fleet.catalog, fleet.orders]
            try await OrdersProcessTests.waitFor({ processes.allSatisfy { !spans($0).isEmpty } }, "the trace in every process's access log")
            let found = processes.flatMap(spans)
            #expect(Set(found).count == found.count, "each process's span is its own: \(found)")
            #expect(!found.contains(parent), "no process reuses the caller's span id")
        }
    }

    /// Behind the gateway every login comes from its address; users takes the client from the
    /// gateway's `X-Forwarded-For` (a trusted proxy), so one client's failed sign-ins lock out
    /// that client, not everyone behind the gateway.
    @Test func oneClientLockedOutThroughTheGatewayDoesNotLockOutAnother() async throws {
        try await Self.withFleet { fleet in
            _ = try await Self.register(fleet.gateway, "ann")
            _ = try await Self.register(fleet.gateway, "bob")
            func signIn(_ user: String, _ password: String, from client: String) async throws -> HTTPResponse.Status {
                try await fleet.gateway.api(
                    "/token", method: .post,
                    headers: [.contentType: "application/x-www-form-urlencoded", HTTPField.Name("X-Forwarded-For")!: client],
                    body: "username=\(user)&password=\(password)"
                ).status
            }
            for _ in 0..<5 { #expect(try await signIn("ann", "wrong+horse", from: "203.0.113.7") == .unauthorized) }
            #expect(try await signIn("ann", "wrong+horse", from: "203.0.113.7") == .tooManyRequests, "the failing client is locked out")
            #expect(try await signIn("bob", "correct+horse", from: "198.51.100.9") == .ok, "another client behind the same gateway is not")
        }
    }

    @Test func theFleetDocumentIsValidAndEveryAnswerThroughTheGatewayMatchesIt() async throws {
        try await Self.withFleet { fleet in
            // A token for the user the steps register first (id 1 on a new users database).
            let token = try fleet.issuer.token(TestIssuer.claims(subject: "1"))
            let parity = BuiltProducts.repositoryRoot + "/Tests/Parity"
            let result = try await Command.run(
                [
                    "python3", parity + "/check_openapi.py", "--base", "http://127.0.0.1:\(fleet.gateway.port)", "--steps", parity + "/gateway-steps.json",
                    "--bearer", token,
                ],
                environment: ["PYTHONDONTWRITEBYTECODE": "1"])
            #expect(result.status == 0, "\(result.output)")
            let document = try OrdersProcessTests.json(try await fleet.gateway.api("/openapi.json"))
            let paths = try #require(document["paths"] as? [String: Any])
            for path in ["/api/overview", "/api/users/{id}/dashboard", "/api/status", "/users", "/token", "/items/{id}", "/orders"] {
                #expect(paths[path] != nil, "\(path) is in the fleet's document")
            }
            let schemes = (document["components"] as? [String: Any])?["securitySchemes"] as? [String: Any]
            let password = (schemes?["OAuth2PasswordBearer"] as? [String: Any])?["flows"] as? [String: Any]
            #expect((password?["password"] as? [String: Any])?["tokenUrl"] as? String == "/token", "Authorize signs in through the proxied /token")
        }
    }
}
