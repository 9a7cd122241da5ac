import Foundation
import Hummingbird
import HummingbirdTesting
import FleetTestSupport
import ServiceKitTesting
import Testing

/// No request can crash a service: the real `catalog` process under schemathesis (every operation
/// of its /openapi.json) and under our own seeded hostile requests (Tests/Fuzz), with no 5xx, no
/// malformed answer and `/livez` answering 200 after every request. Catalog's writes need a token:
/// a real `users` runs beside it, and the fuzzers send a valid token so that the bodies are
/// parsed past the authentication (and a share of the hostile requests send none).
@Suite(.serialized, .timeLimit(.minutes(10))) struct FuzzTests {
    static let fuzz = BuiltProducts.repositoryRoot + "/Tests/Fuzz"

    /// The fixed seeds: a run sends the same requests every time (change them to explore).
    static let schemathesisSeed = 20_261_201
    static let hostileSeed = 11

    /// What every answer must pass. `status_code_conformance` (400 is not documented for uploads)
    /// and `positive_data_acceptance` (text with NUL is refused with 422) fail today: see docs/testing.md.
    static let schemathesisChecks = "not_a_server_error,response_schema_conformance,content_type_conformance,response_headers_conformance"

    /// The catalog and the users service whose keys it checks tokens with, on SQLite files in a new
    /// temporary folder, on free ports; stopped (killed if they must be) and the folder removed when
    /// `body` ends, whether or not it passed. `body` gets a valid token of users' signing key.
    static func withCatalog<Value>(_ body: (ServiceProcess, String, String) async throws -> Value) async throws -> Value {
        let folder = try TemporaryDirectory.make(prefix: "fuzz")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let users = ["DATABASE_URL": "sqlite:///\(folder)/users.db", "DATA_DIR": folder + "/users-data", "LOG_LEVEL": "warning"]
        let catalog = ["DATABASE_URL": "sqlite:///\(folder)/catalog.db", "DATA_DIR": folder + "/data", "LOG_LEVEL": "warning"]
        return try await UsersAndCatalog.with(users: users, catalog: catalog) { users, catalog, issuer in
            let value = try await body(catalog, folder, try issuer.token())
            #expect(catalog.isRunning, "the catalog died: \(catalog.stderr.suffix(4000))")
            #expect(users.isRunning, "users died: \(users.stderr.suffix(4000))")
            #expect(await catalog.stop() == 0, "the catalog did not stop cleanly: \(catalog.stderr.suffix(4000))")
            return value
        }
    }

    /// Runs a script of Tests/Fuzz with the test process's python3.
    static func python(_ script: String, _ arguments: [String]) async throws -> Command.Result {
        try await Command.run(["python3", fuzz + "/" + script] + arguments, environment: ["PYTHONDONTWRITEBYTECODE": "1"])
    }

    /// The JSON summary a fuzz script wrote.
    static func summary(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Schemathesis generates valid and invalid path, query, header, cookie, JSON and multipart
    /// inputs for every operation (300 per operation and phase, fixed seed, at most 110 s), every
    /// request with a valid token; every answer must be below 500 and match its documented schema,
    /// content type and headers.
    @Test func schemathesisFindsNoServerErrorOnAnyOperation() async throws {
        try await Self.withCatalog { catalog, folder, token in
            let summaryFile = folder + "/schemathesis.json"
            let result = try await Self.python("run_schemathesis.py", [
                "--base", "http://127.0.0.1:\(catalog.port)", "--admin-port", String(catalog.adminPort),
                "--max-examples", "300", "--seed", String(Self.schemathesisSeed), "--time-limit", "110",
                "--checks", Self.schemathesisChecks, "--bearer", token, "--summary", summaryFile,
            ])
            #expect(result.status == 0, "schemathesis: \(result.output)\ncatalog stderr: \(catalog.stderr.suffix(4000))")
            let summary = try Self.summary(summaryFile)
            #expect(summary["alive"] as? Bool == true)
            #expect((summary["operations"] as? Int ?? 0) >= 7, "every operation was tested: \(summary)")
            // ~2,600 on an idle machine; one that ends at its time limit on a slow machine still has
            // to have done real work.
            #expect((summary["generated"] as? Int ?? 0) >= 700, "too few test cases: \(summary)")
        }
    }

    /// Runs schemathesis on `service` (300 examples per operation and phase, the fixed seed, at
    /// most 90 s, every request with `token`) and checks it found nothing, kept the service alive
    /// and tested at least `operations` operations with `cases` cases.
    static func schemathesis(_ service: ServiceProcess, token: String, folder: String, operations: Int, cases: Int) async throws {
        let summaryFile = folder + "/schemathesis.json"
        let result = try await Self.python("run_schemathesis.py", [
            "--base", "http://127.0.0.1:\(service.port)", "--admin-port", String(service.adminPort),
            "--max-examples", "300", "--seed", String(schemathesisSeed), "--time-limit", "90",
            "--checks", schemathesisChecks, "--bearer", token, "--summary", summaryFile,
        ])
        #expect(result.status == 0, "schemathesis: \(result.output)\nstderr: \(service.stderr.suffix(4000))")
        let summary = try Self.summary(summaryFile)
        #expect(summary["alive"] as? Bool == true)
        #expect((summary["operations"] as? Int ?? 0) >= operations, "every operation was tested: \(summary)")
        #expect((summary["generated"] as? Int ?? 0) >= cases, "too few test cases: \(summary)")
        #expect(service.isRunning, "the service died: \(service.stderr.suffix(4000))")
        #expect(await service.stop() == 0)
    }

    /// The same for users: registration (JSON), sign-in (form), the bearer route, reads, JWKS.
    /// Passwords are hashed at bcrypt's cheapest cost so the run is about the inputs, and the
    /// login throttle is high enough that schemathesis's sign-ins are checked, not refused.
    @Test func schemathesisFindsNoServerErrorOnAnyUsersOperation() async throws {
        let folder = try TemporaryDirectory.make(prefix: "fuzz-users")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let issuer = try TestIssuer()
        let environment = [
            "JWT_PRIVATE_KEY_FILE": issuer.pemFile, "BCRYPT_COST": "4", "LOGIN_MAX_FAILURES": "100000",
            "DATABASE_URL": "sqlite:///\(folder)/users.db", "DATA_DIR": folder + "/data", "LOG_LEVEL": "warning",
        ]
        try await ServiceProcess.with("users", environment: environment) { users in
            try await users.waitUntilReady()
            try await Self.schemathesis(users, token: try issuer.token(), folder: folder, operations: 6, cases: 500)
        }
    }

    /// The same for orders, behind real users and catalog processes: the order body (nested
    /// lines), `Idempotency-Key`, the `user_id` filter, paths and pages. Schemathesis's items
    /// mostly do not exist (422 naming the line) and its keys mostly repeat with other bodies (422).
    @Test func schemathesisFindsNoServerErrorOnAnyOrdersOperation() async throws {
        let folder = try TemporaryDirectory.make(prefix: "fuzz-orders")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await UsersAndCatalog.with(catalog: ["DATABASE_URL": "sqlite:///\(folder)/catalog.db", "DATA_DIR": folder, "LOG_LEVEL": "warning"]) { users, catalog, issuer in
            _ = try await catalog.api("/items", method: .post, headers: issuer.bearer(), body: #"{"name": "Lamp", "price": 2, "stock": 1000000}"#)
            let environment = [
                "USERS_URL": "http://127.0.0.1:\(users.port)", "CATALOG_URL": "http://127.0.0.1:\(catalog.port)",
                "DATABASE_URL": "sqlite:///\(folder)/orders.db", "DATA_DIR": folder, "LOG_LEVEL": "warning",
            ]
            try await ServiceProcess.with("orders", environment: environment) { orders in
                try await orders.waitUntilReady()
                try await Self.schemathesis(orders, token: try issuer.token(), folder: folder, operations: 3, cases: 300)
                #expect(catalog.isRunning)
            }
        }
    }

    /// The gateway: its own aggregations and every proxied route of the fleet's merged document,
    /// sent through the proxy to the real services behind it.
    @Test func schemathesisFindsNoServerErrorOnAnyGatewayOperation() async throws {
        try await GatewayProcessTests.withFleet(gateway: ["LOG_LEVEL": "warning"]) { fleet in
            _ = try await fleet.catalog.api("/items", method: .post, headers: fleet.issuer.bearer(), body: #"{"name": "Lamp", "price": 2, "stock": 1000000}"#)
            let folder = try TemporaryDirectory.make(prefix: "fuzz-gateway")
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try await Self.schemathesis(fleet.gateway, token: try fleet.issuer.token(), folder: folder, operations: 10, cases: 300)
            for service in [fleet.users, fleet.catalog, fleet.orders] {
                #expect(service.isRunning, "a service behind the gateway died: \(service.stderr.suffix(2000))")
            }
        }
    }

    /// Our own generator: 3,000 malformed multipart, form and JSON bodies, odd query strings,
    /// headers and cookies, over raw sockets (Tests/Fuzz/hostile_requests.py), at most 100 s. Most
    /// carry a valid token, so the bodies reach the parsers; a quarter carry none and are refused
    /// (401 before the body is read), which must not yield a 5xx either.
    @Test func seededHostileRequestsGetNoServerErrorAndNeverKillTheService() async throws {
        // Kept when a case fails: the exact bytes of each failing request.
        let failures = try TemporaryDirectory.make(prefix: "fuzz-failures")
        defer {
            if (try? FileManager.default.contentsOfDirectory(atPath: failures))?.isEmpty ?? true {
                try? FileManager.default.removeItem(atPath: failures)
            }
        }
        try await Self.withCatalog { catalog, folder, token in
            let summaryFile = folder + "/hostile.json"
            let result = try await Self.python("hostile_requests.py", [
                "--port", String(catalog.port), "--admin-port", String(catalog.adminPort),
                "--seed", String(Self.hostileSeed), "--count", "3000", "--time-limit", "100", "--max-failures", "20",
                "--bearer", token, "--anonymous-share", "0.25", "--out", failures, "--summary", summaryFile,
            ])
            #expect(result.status == 0, "hostile requests (failing requests kept in \(failures)): \(result.output)\ncatalog stderr: \(catalog.stderr.suffix(4000))")
            let summary = try Self.summary(summaryFile)
            // All 3,000 in about a minute on an idle machine; at least a sixth of them on a slow one.
            #expect((summary["sent"] as? Int ?? 0) >= 500, "too few requests: \(summary)")
            let statuses = try #require(summary["statuses"] as? [String: [String: Int]])
            #expect(Set(statuses.keys) == ["multipart", "form", "json", "query", "headers", "cookies"], "every kind was sent: \(statuses)")
            // The bodies sent with the token got past it, and those sent without one were refused.
            let byToken = try #require(summary["statuses_by_token"] as? [String: [String: [String: Int]]])
            let withToken = byToken["with", default: [:]]["multipart", default: [:]]
            let without = byToken["without", default: [:]]["multipart", default: [:]]
            #expect(withToken.keys.contains { $0.split(separator: ",").first != "401" }, "uploads with a token were refused: \(withToken)")
            #expect(without.keys.contains { $0.split(separator: ",").first == "401" }, "uploads without a token were not refused: \(without)")
        }
    }

    /// multipart-kit 4.7.1 indexed its 128-entry table of header-name bytes with any byte: one
    /// upload whose part header name held 0xFF killed the process. (Uploads now need a token, sent
    /// here so that the body reaches the parser.)
    @Test func aMultipartPartWhoseHeaderNameHoldsAByteAbove0x7FIsRefusedAndTheServiceLives() async throws {
        try await Self.withCatalog { catalog, _, token in
            let created = try await catalog.api("/items", method: .post, headers: [.authorization: "Bearer \(token)"], body: #"{"name": "Lamp", "price": 3}"#)
            #expect(created.status == .created)
            for byte in [UInt8(0xFF)] + Array(UInt8(0x80)...UInt8(0xFE)) {
                let body: [UInt8] = Array("--fuzz\r\nContent-Dispositi".utf8) + [byte] + Array(
                    "on: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nnot really a PNG\r\n--fuzz--\r\n".utf8)
                let head = "POST /items/1/image HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Type: multipart/form-data; boundary=fuzz\r\n"
                    + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
                let connection = try RawHTTPConnection(port: catalog.port)
                await connection.send(Array(head.utf8) + body)
                let response = await connection.readResponse()
                #expect(response?.status == 400 || response?.status == 422, "byte 0x\(String(byte, radix: 16)): \(String(describing: response))")
                let live = try? await catalog.admin("/livez")
                try #require(live?.status == .ok, "byte 0x\(String(byte, radix: 16)) killed the catalog: \(catalog.stderr.suffix(4000))")
            }
            #expect(try await catalog.api("/items/1").status == .ok, "the service keeps serving")
        }
    }
}
