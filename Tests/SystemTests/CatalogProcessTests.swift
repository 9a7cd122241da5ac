import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import FleetTestSupport
import ServiceKitTesting
import Testing

/// The real `catalog` executable, started as a process: logs, metrics, body limits, databases.
/// Its writes need a token: the tests that write start a real `users` too (`UsersAndCatalog`),
/// whose keys catalog fetches, and sign their tokens with the key users signs with.
@Suite(.serialized) struct CatalogProcessTests {
    /// `Authorization: Bearer <token>\r\n`, for requests written by hand.
    static func authorizationLine(_ issuer: TestIssuer) throws -> String {
        "Authorization: \(try issuer.authorization())\r\n"
    }

    /// Reads `/proc/PID/maps` of a running process.
    static func maps(_ pid: Int32) throws -> String {
        // Read to the end: /proc files report size 0, and a sized read stops at the first page.
        let maps = try #require(try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/maps")).readToEnd())
        return String(decoding: maps, as: UTF8.self)
    }

    @Test func everyStdoutLineIsJSONAndTheAccessLogCarriesTheRequestID() async throws {
        let lines = try await UsersAndCatalog.with { _, catalog, issuer in
            var headers = try issuer.bearer()
            headers[.requestID] = "sys-test-1"
            let sent = try await catalog.api("/items", method: .post, headers: headers, body: #"{"name": "Lamp", "price": 3}"#)
            #expect(sent.status == .created)
            #expect(sent.headers[.requestID] == "sys-test-1")
            let generated = try await catalog.api("/items/1")
            let generatedID = try #require(generated.headers[.requestID])
            let invalid = try await catalog.api("/items?limit=0")
            #expect(invalid.status == .unprocessableContent)
            #expect(await catalog.stop() == 0)
            return (catalog.stdoutLines, generatedID)
        }
        let (stdout, generatedID) = lines
        #expect(!stdout.isEmpty)
        var access: [[String: Any]] = []
        for line in stdout {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
            for field in ["ts", "level", "service", "logger", "msg"] {
                #expect(object[field] is String, "\(field) missing in \(line)")
            }
            #expect(object["service"] as? String == "catalog")
            if object["msg"] as? String == "request" {
                access.append(object)
                // JSONSerialization keeps one of two equal keys; the raw line must not have two.
                for field in ["request_id", "trace_id", "span_id", "method", "route", "status"] {
                    #expect(line.components(separatedBy: "\"\(field)\":").count == 2, "\(field) once in \(line)")
                }
            }
        }
        #expect(access.count == 3)
        for entry in access {
            for field in ["request_id", "trace_id", "span_id", "method", "route"] { #expect(entry[field] is String, "\(field)") }
            #expect(entry["status"] is Int)
            #expect(entry["duration_ms"] is Double || entry["duration_ms"] is Int)
            #expect((entry["trace_id"] as? String)?.count == 32)
            #expect((entry["span_id"] as? String)?.count == 16)
        }
        #expect(access[0]["request_id"] as? String == "sys-test-1")
        #expect(access[0]["status"] as? Int == 201)
        #expect(access[1]["request_id"] as? String == generatedID)
        #expect(access[1]["route"] as? String == "/items/{id}")
        #expect(access[2]["status"] as? Int == 422)
    }

    /// libcurl and its thirty libraries cost ~6 MiB resident; a service loads them with its first
    /// peer call, and users calls none: registering, signing in and reading never load them.
    @Test func aServiceThatCallsNoPeerNeverMapsLibcurl() async throws {
        try await ServiceProcess.with("users", environment: ["BCRYPT_COST": "4"]) { users in
            try await users.waitUntilReady()
            let registered = try await users.api("/users", method: .post, body: #"{"username": "lamp_owner", "email": "lamp@example.org", "password": "correct horse"}"#)
            #expect(registered.status == .created)
            let login = try await users.api(
                "/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: "username=lamp_owner&password=correct+horse"
            )
            #expect(login.status == .ok)
            #expect(try await users.api("/users/1").status == .ok)
            #expect(try await users.api("/.well-known/jwks.json").status == .ok)
            #expect(try await users.admin("/metrics").status == .ok)
            let text = try Self.maps(users.pid)
            #expect(text.contains("libswiftCore"), "the maps of the service itself were read")
            #expect(!text.contains("libcurl"))
            #expect(!text.contains("libgnutls") && !text.contains("libssh2") && !text.contains("libldap"))
        }
    }

    /// Catalog calls users for its keys, on the first write that needs them: until then (reads,
    /// metrics) it maps no libcurl either, and that write is what loads it.
    @Test func catalogMapsLibcurlOnlyOnceAWriteMakesItFetchTheKeys() async throws {
        try await UsersAndCatalog.with { _, catalog, issuer in
            #expect(try await catalog.api("/items").status == .ok)
            #expect(try await catalog.api("/items/1").status == .notFound)
            #expect(try await catalog.admin("/metrics").status == .ok)
            let before = try Self.maps(catalog.pid)
            #expect(before.contains("libswiftCore"), "the maps of the service itself were read")
            #expect(!before.contains("libcurl"), "reads loaded libcurl")
            #expect(!before.contains("libgnutls") && !before.contains("libssh2") && !before.contains("libldap"))

            let created = try await catalog.api("/items", method: .post, headers: try issuer.bearer(), body: #"{"name": "Lamp", "price": 3}"#)
            #expect(created.status == .created)
            #expect(try Self.maps(catalog.pid).contains("libcurl"), "the key fetch went through CurlHTTP")
        }
    }

    @Test func anIncomingTraceparentKeepsItsTraceID() async throws {
        try await ServiceProcess.with("catalog") { catalog in
            try await catalog.waitUntilReady()
            _ = try await catalog.api("/items", headers: [.init("traceparent")!: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"])
            await catalog.stop()
            let access = catalog.stdoutLines.filter { $0.contains(#""msg":"request""#) }
            #expect(access.count == 1)
            #expect(access.first?.contains(#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736""#) == true)
            #expect(access.first?.contains("00f067aa0ba902b7") == false, "the server's span is a new one")
        }
    }

    @Test func aLiveScrapePassesPromtoolAndAdminPathsStayOffTheAPIPort() async throws {
        try await UsersAndCatalog.with { _, catalog, issuer in
            _ = try await catalog.api("/items/7")
            let created = try await catalog.api("/items", method: .post, headers: try issuer.bearer(), body: #"{"name": "x", "price": 1}"#)
            #expect(created.status == .created)
            let scrape = try await catalog.admin("/metrics")
            #expect(scrape.status == .ok)
            let text = String(buffer: scrape.body ?? ByteBuffer())
            #expect(text.contains(#"http_route="/items/{id}""#))
            let file = NSTemporaryDirectory() + "fleet-scrape-\(UUID().uuidString).txt"
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let check = try await Command.run(["sh", "-c", "promtool check metrics < \(file)"])
            #expect(check.status == 0, "promtool: \(check.output)")
            #expect(check.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "promtool: \(check.output)")
            for path in ["/metrics", "/readyz", "/livez", "/healthz", "/info", "/loggers"] {
                #expect(try await catalog.api(path).status == .notFound, "\(path) answered on the API port")
            }
        }
    }

    @Test func aDeclaredOversizeBodyIsRefusedAtOnce() async throws {
        try await UsersAndCatalog.with(catalog: ["MAX_BODY_BYTES": "1024"]) { _, catalog, issuer in
            let connection = try RawHTTPConnection(port: catalog.port)
            // Only the head is sent: the answer must not wait for a 10 MB body. With a valid token,
            // which is checked before the body is read (without one the answer is 401).
            await connection.send(
                "POST /items HTTP/1.1\r\nHost: x\r\n" + (try Self.authorizationLine(issuer))
                    + "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{\"name\":"
            )
            let response = try #require(await connection.readResponse())
            #expect(response.status == 413)
            #expect(response.body.contains("Request body too large"))
        }
    }

    @Test func aChunkedBodyIsRefusedAsSoonAsItCrossesTheLimit() async throws {
        try await UsersAndCatalog.with(catalog: ["MAX_BODY_BYTES": "1024"]) { _, catalog, issuer in
            let connection = try RawHTTPConnection(port: catalog.port)
            // With a valid token, checked before the body is read (without one the answer is 401).
            await connection.send(
                "POST /items HTTP/1.1\r\nHost: x\r\n" + (try Self.authorizationLine(issuer))
                    + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            let chunk = String(repeating: "a", count: 512)
            for _ in 0..<3 { await connection.send(String(512, radix: 16) + "\r\n" + chunk + "\r\n") }
            // 1536 bytes sent, far less than a full body would be; the answer comes now.
            let response = try #require(await connection.readResponse())
            #expect(response.status == 413)
            #expect(try await catalog.api("/items").status == .ok, "the service keeps serving")
        }
    }

    @Test func theCatalogRunsOnPostgreSQL() async throws {
        try await PostgresServer.with { server in
            try await UsersAndCatalog.with(catalog: ["DATABASE_URL": server.url]) { _, catalog, issuer in
                let created = try await catalog.api("/items", method: .post, headers: try issuer.bearer(), body: #"{"name": "Pg", "price": 2, "stock": 1}"#)
                #expect(created.status == .created)
                let readiness = String(buffer: try await catalog.admin("/readyz").body ?? ByteBuffer())
                #expect(readiness.contains(#""name":"database""#))
                #expect(await catalog.stop() == 0)
            }
        }
    }

    /// Text no engine stores faithfully is refused the same way on both (PostgreSQL answered 500 to
    /// a NUL in a tag, found by schemathesis), and text that breaks the rules is never stored.
    @Test(arguments: ["sqlite", "postgres"])
    func badTextIsRefusedAlikeOnBothEngines(engine: String) async throws {
        func check(_ catalog: ServiceProcess, _ issuer: TestIssuer) async throws {
            let auth = try issuer.bearer()
            let nulTag = try await catalog.api("/items", method: .post, headers: auth, body: #"{"name": "Lamp", "price": 3, "tags": ["a\u0000b"]}"#)
            #expect(nulTag.status == .unprocessableContent, "\(engine): NUL in a tag")
            let nulQuery = try await catalog.api("/items?tag=%00")
            #expect(nulQuery.status == .unprocessableContent, "\(engine): NUL in a query value")
            let combining = "e" + String(repeating: "\u{0301}", count: 5000)
            let long = try await catalog.api("/items", method: .post, headers: auth, body: #"{"name": ""# + combining + #"", "price": 3}"#)
            #expect(long.status == .unprocessableContent, "\(engine): 5001 code points are over maxLength 100")
            let page = String(buffer: try await catalog.api("/items").body ?? ByteBuffer())
            #expect(page.contains(#""total":0"#), "\(engine): nothing was stored: \(page)")
            #expect(await catalog.stop() == 0)
        }
        if engine == "postgres" {
            try await PostgresServer.with { server in
                try await UsersAndCatalog.with(catalog: ["DATABASE_URL": server.url]) { try await check($1, $2) }
            }
        } else {
            let data = try TemporaryDirectory.make(prefix: "text")
            defer { try? FileManager.default.removeItem(atPath: data) }
            try await UsersAndCatalog.with(catalog: ["DATABASE_URL": "sqlite:///\(data)/catalog.db"]) { try await check($1, $2) }
        }
    }
}
