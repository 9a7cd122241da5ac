import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import ServiceKitTesting
import Testing

/// The gateway's proxy (issue 14, point 3) against a real peer: the `gateway` executable with
/// `Tests/Tools/echo_peer.py` as its catalog, so `/items/...` reaches the echo unchanged. Each test
/// starts its own peer and gateway (a circuit breaker or retry budget never carries over) and
/// stops both however it ends.
///
/// What is shown: method, path, query, headers (hop-by-hop ones dropped in both directions), body
/// and status pass through; `X-Forwarded-*`, `X-Request-ID` and `traceparent` are set as the
/// issue says; 50 MB go up and down streamed, with the gateway's peak RSS bounded, and both
/// bodies stream at once; only idempotent (or keyed) requests with a replayable body are retried;
/// a dead peer is a 502, a silent one a 504 after `PROXY_TIMEOUT`, and `/readyz` stays 200.
@Suite(.serialized) struct GatewayProxyTests {
    static let requestID = HTTPField.Name("X-Request-ID")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let traceparent = HTTPField.Name("traceparent")!
    static let tracestate = HTTPField.Name("tracestate")!
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let mib = 1 << 20

    // MARK: - Processes

    /// A running `echo_peer.py` and the port it printed.
    struct EchoPeer {
        let process: ServiceProcess
        let port: Int
        var url: String { "http://127.0.0.1:\(port)" }

        /// How many requests `/flaky/<key>` has had, asked of the peer itself (not through the gateway).
        func attempts(_ key: String) async throws -> Int? {
            let response = try await ServiceProcess.request(port: port, "/attempts/\(key)")
            return try GatewayProxyTests.object(response)["attempts"] as? Int
        }
    }

    /// Runs `body` with an echo peer that has printed its port; stops it however `body` ends.
    static func withEchoPeer<Value>(_ body: (EchoPeer) async throws -> Value) async throws -> Value {
        let script = BuiltProducts.repositoryRoot + "/Tests/Tools/echo_peer.py"
        let process = try ServiceProcess("/usr/bin/python3", arguments: ["-u", script])
        do {
            let deadline = ContinuousClock.now + .seconds(30)
            var port: Int?
            while port == nil {
                port = process.stdoutLines.first.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                if port != nil { break }
                try #require(process.isRunning, "echo_peer.py exited: \(process.stderr)")
                try #require(ContinuousClock.now < deadline, "echo_peer.py printed no port: \(process.stderr)")
                try await Task.sleep(for: .milliseconds(20))
            }
            let value = try await body(EchoPeer(process: process, port: try #require(port)))
            await process.stop(timeout: .seconds(10))
            return value
        } catch {
            await process.stop(timeout: .seconds(5))
            throw error
        }
    }

    /// Runs `body` with a ready gateway whose catalog is `catalog` (users and orders too unless
    /// given); stops it however `body` ends.
    static func withGateway<Value>(
        catalog: String, users: String? = nil, orders: String? = nil, proxyTimeout: String = "60s",
        _ body: (ServiceProcess) async throws -> Value
    ) async throws -> Value {
        let folder = try TemporaryDirectory.make(prefix: "gateway-proxy")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let environment = [
            "USERS_URL": users ?? catalog, "CATALOG_URL": catalog, "ORDERS_URL": orders ?? catalog,
            "PROXY_TIMEOUT": proxyTimeout, "DATA_DIR": folder, "DATABASE_URL": "sqlite:///\(folder)/gateway.db",
        ]
        return try await ServiceProcess.with("gateway", environment: environment) { gateway in
            try await gateway.waitUntilReady(timeout: .seconds(60))
            return try await body(gateway)
        }
    }

    static func withEchoAndGateway<Value>(proxyTimeout: String = "60s", _ body: (EchoPeer, ServiceProcess) async throws -> Value) async throws -> Value {
        try await withEchoPeer { peer in
            try await withGateway(catalog: peer.url, proxyTimeout: proxyTimeout) { gateway in try await body(peer, gateway) }
        }
    }

    /// `/readyz` on the gateway's admin port is 200.
    static func expectReady(_ gateway: ServiceProcess, _ when: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let ready = try await gateway.admin("/readyz")
        #expect(ready.status == .ok, "/readyz \(when): \(ready.status) \(String(buffer: ready.body ?? .init()))", sourceLocation: sourceLocation)
    }

    // MARK: - Reading answers

    static func object(_ response: TestClient.Response) throws -> [String: Any] {
        try object(Data((response.body ?? .init()).readableBytesView))
    }

    static func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "not a JSON object: \(String(decoding: data, as: UTF8.self))")
    }

    /// What the echo peer saw of one request.
    struct Echo {
        let object: [String: Any]

        init(_ response: TestClient.Response) throws { object = try GatewayProxyTests.object(response) }
        init(text: String) throws { object = try GatewayProxyTests.object(Data(text.utf8)) }

        var method: String? { object["method"] as? String }
        var path: String? { object["path"] as? String }
        var query: String? { object["query"] as? String }
        var bodyLength: Int? { object["body_length"] as? Int }
        var bodySHA256: String? { object["body_sha256"] as? String }
        var bodyText: String? { object["body_text"] as? String }
        /// Header names in lower case, in the order the peer received them.
        var headerNames: [String] { (object["headers"] as? [[String]] ?? []).compactMap { $0.first?.lowercased() } }
        /// Every value of header `name` (any case) the peer received.
        func values(_ name: String) -> [String] {
            (object["headers"] as? [[String]] ?? []).filter { $0.count == 2 && $0[0].lowercased() == name.lowercased() }.map { $0[1] }
        }
    }

    /// A response read off a raw connection by hand: its head, then its body as it arrives.
    final class ResponseReader {
        let connection: RawHTTPConnection
        private var buffer: [UInt8] = []

        init(_ connection: RawHTTPConnection) { self.connection = connection }

        /// One more read; fails the test when the connection ended or nothing came for 30 s.
        private func fill(_ what: String) async throws {
            let bytes = await connection.receive(atMost: 1 << 20)
            try #require(!bytes.isEmpty, "the connection ended or stalled (30 s) while reading \(what)")
            buffer.append(contentsOf: bytes)
        }

        private static func find(_ pattern: [UInt8], in bytes: [UInt8]) -> Int? {
            guard bytes.count >= pattern.count else { return nil }
            for start in 0...(bytes.count - pattern.count) where bytes[start] == pattern[0] {
                if Array(bytes[start..<(start + pattern.count)]) == pattern { return start }
            }
            return nil
        }

        /// The status and headers (names in lower case; a repeated one keeps its last value).
        func head() async throws -> (status: Int, headers: [String: String], names: [String]) {
            while true {
                if let end = Self.find([13, 10, 13, 10], in: buffer) {
                    let text = String(decoding: buffer[..<end], as: UTF8.self)
                    buffer.removeFirst(end + 4)
                    let lines = text.components(separatedBy: "\r\n")
                    let parts = lines[0].split(separator: " ")
                    let status = try #require(parts.count >= 2 ? Int(parts[1]) : nil, "status line: \(lines[0])")
                    var headers: [String: String] = [:]
                    var names: [String] = []
                    for line in lines.dropFirst() {
                        guard let colon = line.firstIndex(of: ":") else { continue }
                        let name = line[..<colon].lowercased()
                        names.append(name)
                        headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    }
                    return (status, headers, names)
                }
                try await fill("a response head")
            }
        }

        /// At least one and at most `count` body bytes.
        func bytes(atMost count: Int) async throws -> [UInt8] {
            if buffer.isEmpty { try await fill("the body") }
            if buffer.count <= count {
                defer { buffer = [] }
                return buffer
            }
            defer { buffer.removeFirst(count) }
            return Array(buffer[..<count])
        }

        /// Exactly `count` bytes.
        func exactly(_ count: Int) async throws -> [UInt8] {
            var out: [UInt8] = []
            while out.count < count { out += try await bytes(atMost: count - out.count) }
            return out
        }

        /// A line, without its CRLF.
        func line() async throws -> String {
            while true {
                if let end = Self.find([13, 10], in: buffer) {
                    defer { buffer.removeFirst(end + 2) }
                    return String(decoding: buffer[..<end], as: UTF8.self)
                }
                try await fill("a line")
            }
        }

        /// The next chunk of a chunked body; nil after the last one.
        func chunk() async throws -> [UInt8]? {
            let sizeLine = try await line()
            let size = try #require(Int(sizeLine.split(separator: ";")[0].trimmingCharacters(in: .whitespaces), radix: 16), "chunk size line: \(sizeLine)")
            if size == 0 {
                while try await !line().isEmpty {}  // trailers
                return nil
            }
            let data = try await exactly(size)
            #expect(try await line().isEmpty, "CRLF after a chunk")
            return data
        }
    }

    static func send(_ connection: RawHTTPConnection, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try #require(await connection.send(bytes), "the gateway closed the connection while the request was sent", sourceLocation: sourceLocation)
    }

    static func chunkFrame(_ bytes: [UInt8]) -> [UInt8] {
        Array("\(String(bytes.count, radix: 16))\r\n".utf8) + bytes + [13, 10]
    }

    // MARK: - Files, hashes, memory

    static func sha256(ofFile path: String) async throws -> String {
        let result = try await Command.run(["sha256sum", path])
        try #require(result.status == 0, "sha256sum: \(result.output)")
        return String(result.output.prefix { $0 != " " })
    }

    /// A field of /proc/PID/status, in kB (`VmHWM`: peak resident set, `VmRSS`: resident now).
    static func kilobytes(_ field: String, of pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix(field + ":") }, "\(field) in /proc/\(pid)/status")
        let parts = line.split { $0 == " " || $0 == "\t" }
        return try #require(parts.count >= 2 ? Int(parts[1]) : nil, "\(line)")
    }

    // MARK: - Method, path, query, headers, body, status

    /// Every method with its path (percent-encoding kept), query (repeated and encoded
    /// parameters kept), a custom header, its body and the peer's status come through; so do the
    /// peer's response headers (a repeated one too) and its body, and `/items` itself.
    @Test(.timeLimit(.minutes(2)))
    func methodPathQueryHeadersBodyAndStatusPassThroughBothWays() async throws {
        try await Self.withEchoAndGateway { peer, gateway in
            let path = "/items/echo/a%20b/%C3%A9%2Fx"
            let query = "x=1&x=2&q=a%26b&empty=&status=201"
            for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete, .options] {
                let body: String? = [.post, .put, .patch].contains(method) ? #"{"sent": "\#(method.rawValue)", "n": [1, 2, 3]}"# : nil
                let headers: HTTPFields = [HTTPField.Name("X-Custom-Header")!: "value-\(method.rawValue)", .accept: "application/json"]
                let response = try await gateway.api(path + "?" + query, method: method, headers: headers, body: body)
                #expect(response.status == .created, "\(method): the peer's status")
                #expect(response.headers[HTTPField.Name("X-Echo-Peer")!] == "echo_peer", "\(method): a response header")
                #expect(response.headers[HTTPField.Name("X-Echo-Method")!] == method.rawValue)
                #expect(response.headers[values: .setCookie] == ["a=1", "b=2"], "\(method): a repeated response header")
                #expect(response.headers[.contentType] == "application/json")
                let echo = try Echo(response)
                #expect(echo.method == method.rawValue)
                #expect(echo.path == path, "the path as sent, percent-encoding and all")
                #expect(echo.query == query)
                #expect(echo.values("X-Custom-Header") == ["value-\(method.rawValue)"])
                #expect(echo.values("Accept") == ["application/json"])
                #expect(echo.values("Host") == ["127.0.0.1:\(peer.port)"], "Host is the peer's, not the client's")
                if let body {
                    #expect(echo.bodyText == body, "\(method): the body")
                    #expect(echo.bodyLength == body.utf8.count)
                    #expect(echo.values("Content-Type") == ["application/json"])
                    #expect(echo.values("Content-Length") == ["\(body.utf8.count)"])
                } else {
                    #expect(echo.bodyLength == 0, "\(method): no body")
                }
            }

            // A gzip-encoded body passes through as it came, header and bytes: the gateway does
            // not decode it (the service does, against its own limit).
            let encoded: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4B, 0x04, 0x00, 0x43, 0xBE, 0xB7, 0xE8, 0x01, 0x00, 0x00, 0x00]
            let gzipped = try await ServiceProcess.request(port: gateway.port, "/items/echo", method: .post,
                headers: [.contentType: "application/json", .contentEncoding: "gzip"], bytes: ByteBuffer(bytes: encoded))
            let seen = try Echo(gzipped)
            #expect(seen.values("Content-Encoding") == ["gzip"])
            #expect(seen.bodyLength == encoded.count, "the encoded bytes, not the decoded \"a\"")

            // HEAD: the status and headers, no body.
            let head = try await gateway.api("/items/echo?status=202", method: .head)
            #expect(head.status == .accepted)
            #expect(head.headers[HTTPField.Name("X-Echo-Method")!] == "HEAD")
            #expect((head.body?.readableBytes ?? 0) == 0)

            // The peer's error answers are its own, not the gateway's.
            let missing = try await gateway.api("/items/echo/nothing?status=404", method: .get)
            #expect(missing.status == .notFound)
            #expect(try Echo(missing).path == "/items/echo/nothing")
            let teapot = try await gateway.api("/items/echo?status=418", method: .post, body: "{}")
            #expect(teapot.status.code == 418)
            // `/items` itself (not only `/items/**`) goes to catalog: the echo has no such route.
            let list = try await gateway.api("/items?limit=2")
            #expect(list.status == .notFound)
            #expect(try Self.object(list)["detail"] as? String == "no route /items", "the peer's own 404 body")
        }
    }

    /// `Connection`, the headers it names and the other hop-by-hop headers (`Keep-Alive`, `TE`,
    /// `Upgrade`, `Proxy-*`) stop at the gateway; a custom header, the body and its length go on.
    /// Written by hand so that the gateway receives exactly these headers.
    @Test(.timeLimit(.minutes(2)))
    func hopByHopRequestHeadersAndThoseConnectionNamesDoNotReachThePeer() async throws {
        try await Self.withEchoAndGateway { peer, gateway in
            let connection = try RawHTTPConnection(port: gateway.port)
            defer { connection.shutdown() }
            let request = "POST /items/echo/raw?via=raw HTTP/1.1\r\n" + "Host: 127.0.0.1:\(gateway.port)\r\n"
                + "Connection: keep-alive, X-Secret\r\n" + "X-Secret: must-not-pass\r\n" + "Keep-Alive: timeout=5, max=10\r\n"
                + "TE: trailers\r\n" + "Upgrade: example/1\r\n" + "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
                + "Proxy-Connection: keep-alive\r\n" + "X-Custom-Header: passes\r\n" + "Content-Type: text/plain\r\n"
                + "Content-Length: 5\r\n\r\nhello"
            try await Self.send(connection, Array(request.utf8))
            let response = try #require(await connection.readResponse(), "no response")
            #expect(response.status == 200, "\(response.body)")
            let echo = try Echo(text: response.body)
            #expect(echo.values("X-Custom-Header") == ["passes"])
            for name in ["connection", "x-secret", "keep-alive", "te", "upgrade", "proxy-authorization", "proxy-connection"] {
                #expect(echo.values(name).isEmpty, "\(name) reached the peer: \(echo.values(name))")
            }
            #expect(echo.values("Host") == ["127.0.0.1:\(peer.port)"])
            #expect(echo.values("Content-Length") == ["5"])
            #expect(echo.bodyText == "hello")
            #expect(echo.path == "/items/echo/raw" && echo.query == "via=raw")
        }
    }

    /// The peer's `Connection`, the header it names and `Keep-Alive` describe the gateway's
    /// connection to the peer: the client does not get them; the peer's other headers it does.
    /// (RFC 9110 §7.6.1: the names a `Connection` header lists are hop-by-hop too.)
    @Test(.timeLimit(.minutes(2)))
    func hopByHopResponseHeadersAndThoseConnectionNamesDoNotReachTheClient() async throws {
        try await Self.withEchoAndGateway { _, gateway in
            let connection = try RawHTTPConnection(port: gateway.port)
            defer { connection.shutdown() }
            try await Self.send(connection, Array("GET /items/echo?hop=1 HTTP/1.1\r\nHost: 127.0.0.1:\(gateway.port)\r\n\r\n".utf8))
            let response = try #require(await connection.readResponse(), "no response")
            #expect(response.status == 200)
            #expect(response.headers["x-echo-peer"] == "echo_peer", "the peer's own headers pass")
            #expect(response.headers["keep-alive"] == nil, "Keep-Alive: \(response.headers["keep-alive"] ?? "")")
            #expect(response.headers["connection"]?.lowercased().contains("x-peer-secret") != true, "the peer's Connection header was handed on")
            #expect(response.headers["x-peer-secret"] == nil, "X-Peer-Secret, named by the peer's Connection header, reached the client")
        }
    }

    /// An answer the peer compressed arrives as the peer sent it: when the client asked for gzip
    /// it gets gzip bytes with the peer's headers; when it asked for no encoding, what it gets
    /// matches what the headers say (not gzip headers over a body libcurl already decoded).
    /// (The proxy turns CurlHTTP's own decoding off: with it, a client without `Accept-Encoding`
    /// got the peer's `Content-Encoding: gzip` and compressed `Content-Length` over decoded bytes.)
    @Test(.timeLimit(.minutes(2)))
    func anEncodedAnswerArrivesAsItsHeadersDescribeIt() async throws {
        try await Self.withEchoAndGateway { _, gateway in
            let plain = Array(#"{"compressed": "yes", "padding": "\#(String(repeating: "abc", count: 400))"}"#.utf8)
            for acceptEncoding in ["gzip", nil] {
                let connection = try RawHTTPConnection(port: gateway.port)
                defer { connection.shutdown() }
                let accept = acceptEncoding.map { "Accept-Encoding: \($0)\r\n" } ?? ""
                try await Self.send(connection, Array("GET /items/gzip HTTP/1.1\r\nHost: 127.0.0.1:\(gateway.port)\r\n\(accept)Connection: close\r\n\r\n".utf8))
                let reader = ResponseReader(connection)
                let head = try await reader.head()
                #expect(head.status == 200)
                let length = try #require(head.headers["content-length"].flatMap(Int.init), "Content-Length: \(head.headers)")
                let body = try await reader.exactly(length)
                let label = "Accept-Encoding: \(acceptEncoding ?? "(none)")"
                if head.headers["content-encoding"] == "gzip" {
                    #expect(body.prefix(2) == [0x1f, 0x8b], "\(label): Content-Encoding gzip over a body that is not gzip: \(String(decoding: body.prefix(40), as: UTF8.self))")
                    #expect(length < plain.count, "\(label): Content-Length \(length) is not the compressed length")
                } else {
                    #expect(head.headers["content-encoding"] == nil, "\(label): \(head.headers)")
                    #expect(body == plain, "\(label): the body")
                }
                if acceptEncoding == "gzip" { #expect(head.headers["content-encoding"] == "gzip", "the client asked for gzip and the peer sent it") }
            }
        }
    }

    // MARK: - Who asked: X-Forwarded-*, X-Request-ID, traceparent

    /// `X-Forwarded-For` is the client's address (after the one it sent), `X-Forwarded-Proto`
    /// http, `X-Forwarded-Host` the gateway's authority; the client's `X-Request-ID` goes to the
    /// peer and comes back; `traceparent` keeps the client's trace id under a new parent span id
    /// (the gateway's), and `tracestate` goes on. Without them, the gateway's own go.
    @Test(.timeLimit(.minutes(2)))
    func forwardedHeadersRequestIDAndTraceparentAreTheGatewaysContinuation() async throws {
        try await Self.withEchoAndGateway { _, gateway in
            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            let clientSpan = "00f067aa0ba902b7"
            let headers: HTTPFields = [
                Self.forwardedFor: "203.0.113.7", Self.requestID: "client-req-42",
                Self.traceparent: "00-\(traceID)-\(clientSpan)-01", Self.tracestate: "vendor=opaque",
            ]
            // HummingbirdTesting's client sends no Host; a real client does, and X-Forwarded-Host is it.
            let host = HTTPField.Name("Host")!
            var withHost = headers
            withHost[host] = "127.0.0.1:\(gateway.port)"
            let response = try await gateway.api("/items/echo/who", headers: withHost)
            #expect(response.status == .ok)
            let echo = try Echo(response)
            #expect(echo.values("X-Forwarded-For") == ["203.0.113.7, 127.0.0.1"], "the client's address appended")
            #expect(echo.values("X-Forwarded-Proto") == ["http"])
            #expect(echo.values("X-Forwarded-Host") == ["127.0.0.1:\(gateway.port)"])
            #expect(echo.values("X-Request-ID") == ["client-req-42"], "the client's request id, once")
            #expect(response.headers[Self.requestID] == "client-req-42", "the gateway's request id is the client's")
            let parents = echo.values("traceparent")
            #expect(parents.count == 1, "one traceparent: \(parents)")
            let parts = (parents.first ?? "").split(separator: "-").map(String.init)
            #expect(parts.count == 4, "traceparent: \(parents)")
            if parts.count == 4 {
                #expect(parts[0] == "00")
                #expect(parts[1] == traceID, "the client's trace continues")
                #expect(parts[2].count == 16 && parts[2] != clientSpan && parts[2] != String(repeating: "0", count: 16),
                    "a new parent span id, not the client's: \(parts[2])")
                #expect(parts[3] == "01", "the sampled flag kept")
            }
            #expect(echo.values("tracestate") == ["vendor=opaque"])

            // A client that sends none of them: its address alone, the gateway's id and a new trace.
            let bare = try await gateway.api("/items/echo/bare", headers: [host: "127.0.0.1:\(gateway.port)"])
            let bareEcho = try Echo(bare)
            #expect(bareEcho.values("X-Forwarded-For") == ["127.0.0.1"])
            #expect(bareEcho.values("X-Forwarded-Proto") == ["http"])
            let generated = try #require(bare.headers[Self.requestID], "the gateway answers its request id")
            #expect(bareEcho.values("X-Request-ID") == [generated])
            let bareParent = bareEcho.values("traceparent")
            #expect(bareParent.count == 1 && bareParent.first?.split(separator: "-").count == 4, "\(bareParent)")
            #expect(bareParent.first?.contains(traceID) != true, "a new trace, not the previous request's")
        }
    }

    // MARK: - Streaming

    /// 50 MiB up (chunked, and again with Content-Length) and 50 MiB down (read with a pause, so
    /// a gateway without backpressure would pile the body up) arrive whole, and the gateway's
    /// peak RSS grows by far less than one body. Measured on a 2-core machine (debug build),
    /// VmHWM from ~55 500 kB after warm-up: the two uploads add +0.1 to +1.5 MB together; the
    /// download adds +0.7 to +10 MB idle and up to +14 MB with both cores busy (`yes` x2), so
    /// +1 332 to +15 284 kB in all over nine runs. The bound is 25 MiB; see the next test for
    /// why the download's share is not constant.
    @Test(.timeLimit(.minutes(4)))
    func fiftyMegabytesGoUpAndDownWholeWhileTheGatewaysPeakRSSStaysFlat() async throws {
        let folder = try TemporaryDirectory.make(prefix: "gateway-stream")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let size = 50 * Self.mib
        let upload = folder + "/upload.bin"
        let made = try await Command.run(["dd", "if=/dev/urandom", "of=\(upload)", "bs=1M", "count=50", "status=none"])
        try #require(made.status == 0, "dd: \(made.output)")
        let uploadHash = try await Self.sha256(ofFile: upload)

        try await Self.withEchoAndGateway(proxyTimeout: "180s") { _, gateway in
            let comm = try String(contentsOfFile: "/proc/\(gateway.pid)/comm", encoding: .utf8)
            try #require(comm.hasPrefix("gateway"), "pid \(gateway.pid) is \(comm), not the gateway")

            // Warm up every path (libcurl loaded, connections pooled, buffers allocated) first.
            for _ in 0..<3 {
                #expect(try await gateway.api("/items/echo/warm", method: .post, body: String(repeating: "x", count: 2 * Self.mib)).status == .ok)
                #expect(try await gateway.api("/items/download?mb=2").body?.readableBytes == 2 * Self.mib)
            }
            let before = try Self.kilobytes("VmHWM", of: gateway.pid)
            var phases: [String] = []

            // Up, chunked, as a client streams it: never more than 1 MiB in the test's hands.
            for (method, framing) in [("POST", "Transfer-Encoding: chunked"), ("PUT", "Content-Length: \(size)")] {
                let connection = try RawHTTPConnection(port: gateway.port)
                defer { connection.shutdown() }
                let head = "\(method) /items/echo/upload HTTP/1.1\r\nHost: 127.0.0.1:\(gateway.port)\r\n\(framing)\r\n"
                    + "Content-Type: application/octet-stream\r\n\r\n"
                try await Self.send(connection, Array(head.utf8))
                let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: upload))
                defer { try? file.close() }
                let chunked = framing.hasPrefix("Transfer-Encoding")
                while let data = try file.read(upToCount: Self.mib), !data.isEmpty {
                    try await Self.send(connection, chunked ? Self.chunkFrame(Array(data)) : Array(data))
                }
                if chunked { try await Self.send(connection, Array("0\r\n\r\n".utf8)) }
                let response = try #require(await connection.readResponse(), "\(method): no response")
                #expect(response.status == 200, "\(method): \(response.status) \(response.body.prefix(300))")
                let echo = try Echo(text: response.body)
                #expect(echo.bodyLength == size, "\(method): the peer got \(echo.bodyLength ?? -1) bytes")
                #expect(echo.bodySHA256 == uploadHash, "\(method): the peer got other bytes")
                phases.append("after the \(method) upload \(try Self.kilobytes("VmHWM", of: gateway.pid)) kB")
            }

            // Down, through a client that stops reading for a second after the first 4 MiB.
            let download = folder + "/download.bin"
            #expect(FileManager.default.createFile(atPath: download, contents: nil))
            let out = try #require(FileHandle(forWritingAtPath: download), "cannot write \(download)")
            defer { try? out.close() }
            let connection = try RawHTTPConnection(port: gateway.port)
            defer { connection.shutdown() }
            try await Self.send(connection, Array("GET /items/download?mb=50 HTTP/1.1\r\nHost: 127.0.0.1:\(gateway.port)\r\nConnection: close\r\n\r\n".utf8))
            let reader = ResponseReader(connection)
            let head = try await reader.head()
            #expect(head.status == 200)
            #expect(head.headers["content-length"] == "\(size)", "the peer's Content-Length passes: \(head.headers)")
            #expect(head.headers["transfer-encoding"] == nil)
            let expectedHash = try #require(head.headers["x-body-sha256"], "the peer's X-Body-SHA256 passes")
            var received = 0
            var paused = false
            while received < size {
                let bytes = try await reader.bytes(atMost: size - received)
                try out.write(contentsOf: Data(bytes))
                received += bytes.count
                if !paused && received >= 4 * Self.mib {
                    paused = true
                    try await Task.sleep(for: .seconds(1))
                }
            }
            try out.synchronize()
            #expect(received == size)
            #expect(try await Self.sha256(ofFile: download) == expectedHash, "the download arrived changed")
            // Nothing after the body: the gateway closes as asked.
            #expect(await connection.receive().isEmpty, "bytes after the 50 MiB body")

            let after = try Self.kilobytes("VmHWM", of: gateway.pid)
            let resident = try Self.kilobytes("VmRSS", of: gateway.pid)
            print("gateway VmHWM before \(before) kB, \(phases.joined(separator: ", ")), after the download \(after) kB (+\(after - before) kB for 150 MiB moved); VmRSS now \(resident) kB")
            #expect(after - before < 25 * 1024, "the gateway's peak RSS grew by \(after - before) kB (from \(before) kB) moving 50 MiB bodies")
            try await Self.expectReady(gateway, "after the transfers")
        }
    }

    /// Both bodies stream at once: each piece of an upload comes back from `/echo-stream`
    /// through the gateway before the next piece is sent. A gateway that held either body until
    /// it was complete would never answer the first piece (the test fails after 30 s).
    @Test(.timeLimit(.minutes(2)))
    func theRequestAndResponseBodiesStreamAtTheSameTime() async throws {
        try await Self.withEchoAndGateway { _, gateway in
            let connection = try RawHTTPConnection(port: gateway.port)
            defer { connection.shutdown() }
            try await Self.send(connection, Array(
                "POST /items/echo-stream HTTP/1.1\r\nHost: 127.0.0.1:\(gateway.port)\r\nTransfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n".utf8))
            let reader = ResponseReader(connection)
            var sent: [UInt8] = []
            var echoed: [UInt8] = []
            for round in 0..<8 {
                let piece = (0..<(64 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ round &* 7) }
                try await Self.send(connection, Self.chunkFrame(piece))
                sent += piece
                if round == 0 {
                    let head = try await reader.head()
                    #expect(head.status == 200, "the answer began before the upload ended")
                }
                while echoed.count < sent.count {
                    let chunk = try #require(try await reader.chunk(), "the echo ended after \(echoed.count) of \(sent.count) bytes")
                    echoed += chunk
                }
                #expect(echoed.count == sent.count, "round \(round): \(echoed.count) echoed of \(sent.count) sent")
            }
            try await Self.send(connection, Array("0\r\n\r\n".utf8))
            while let chunk = try await reader.chunk() { echoed += chunk }
            #expect(echoed.count == sent.count)
            #expect(echoed == sent, "the echo is the upload")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func onlyIdempotentOrKeyedRequestsWithAReplayableBodyAreRetried() async throws {
        try await Self.withEchoAndGateway { peer, gateway in
            let get = try await gateway.api("/items/flaky/a")
            #expect(get.status == .ok, "GET retried: \(get.status)")
            #expect(try Self.object(get)["attempt"] as? Int == 2)
            #expect(try await peer.attempts("a") == 2)

            let post = try await gateway.api("/items/flaky/b", method: .post)
            #expect(post.status == .serviceUnavailable, "a POST is not retried: \(post.status)")
            #expect(try Self.object(post)["detail"] as? String == "flaky: first attempt fails", "the peer's own 503 body")
            #expect(try await peer.attempts("b") == 1)

            let postWithBody = try await gateway.api("/items/flaky/b2", method: .post, body: #"{"n": 1}"#)
            #expect(postWithBody.status == .serviceUnavailable)
            #expect(try await peer.attempts("b2") == 1)

            let body = #"{"order": "c", "lines": [1, 2, 3]}"#
            let keyed = try await gateway.api("/items/flaky/c", method: .post, headers: [Self.idempotencyKey: "key-c"], body: body)
            #expect(keyed.status == .ok, "a POST with an Idempotency-Key is retried: \(keyed.status)")
            let second = try Self.object(keyed)
            #expect(second["attempt"] as? Int == 2)
            #expect(second["body_text"] as? String == body, "the retry sent the whole body again")
            #expect(try await peer.attempts("c") == 2)

            let put = try await gateway.api("/items/flaky/d", method: .put, body: #"{"d": true}"#)
            #expect(put.status == .ok, "PUT retried: \(put.status)")
            #expect(try Self.object(put)["body_text"] as? String == #"{"d": true}"#)
            #expect(try await peer.attempts("d") == 2)

            // A streamed body cannot be sent twice: a chunked PUT gets the first answer.
            let connection = try RawHTTPConnection(port: gateway.port)
            defer { connection.shutdown() }
            let chunked = "PUT /items/flaky/e HTTP/1.1\r\nHost: 127.0.0.1:\(gateway.port)\r\nTransfer-Encoding: chunked\r\n\r\n"
            try await Self.send(connection, Array(chunked.utf8) + Self.chunkFrame(Array("streamed".utf8)) + Array("0\r\n\r\n".utf8))
            let streamed = try #require(await connection.readResponse(), "no response")
            #expect(streamed.status == 503, "a streamed body is not retried: \(streamed.status)")
            #expect(try await peer.attempts("e") == 1)
        }
    }

    // MARK: - Failing peers

    /// A service nobody listens for, or one that stopped, is a 502 in the `{"detail"}` shape
    /// naming it, for any method and for `/token`; the gateway stays ready.
    @Test(.timeLimit(.minutes(2)))
    func aStoppedServiceIsA502NamingItAndTheGatewayStaysReady() async throws {
        let usersPort = try ClosedPort()
        let ordersPort = try ClosedPort()
        try await Self.withEchoPeer { peer in
            try await Self.withGateway(catalog: peer.url, users: "http://127.0.0.1:\(usersPort.port)", orders: "http://127.0.0.1:\(ordersPort.port)") { gateway in
                let cases: [(String, HTTPRequest.Method, String?, String)] = [
                    ("/orders/1", .get, nil, "orders"), ("/orders", .post, #"{"lines": []}"#, "orders"),
                    ("/users/me", .get, nil, "users"), ("/token", .post, "username=a&password=b", "users"),
                ]
                for (path, method, body, service) in cases {
                    let started = ContinuousClock.now
                    let response = try await gateway.api(path, method: method, body: body)
                    #expect(response.status == .badGateway, "\(method) \(path): \(response.status)")
                    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                    #expect(try Self.object(response)["detail"] as? String == "\(service) is unavailable", "\(method) \(path)")
                    #expect(ContinuousClock.now - started < .seconds(10), "\(method) \(path) answered in time")
                    try await Self.expectReady(gateway, "with \(service) down")
                }

                // Catalog answers, then stops: the next call is a 502 too.
                #expect(try await gateway.api("/items/echo").status == .ok)
                #expect(await peer.process.stop(timeout: .seconds(10)) != nil, "the echo peer stopped")
                let stopped = try await gateway.api("/items/echo")
                #expect(stopped.status == .badGateway)
                #expect(try Self.object(stopped)["detail"] as? String == "catalog is unavailable")
                try await Self.expectReady(gateway, "with every service down")
            }
        }
    }

    /// A peer that never answers is a 504 after `PROXY_TIMEOUT` (1 s here), not sooner and not
    /// much later; meanwhile other proxied calls go on and `/readyz` stays 200.
    @Test(.timeLimit(.minutes(2)))
    func aSilentServiceIsA504AfterProxyTimeoutAndTheGatewayStaysReady() async throws {
        try await Self.withEchoAndGateway(proxyTimeout: "1s") { peer, gateway in
            for (round, (method, body)) in [(HTTPRequest.Method.get, String?.none), (.post, #"{"wait": true}"#)].enumerated() {
                let started = ContinuousClock.now
                async let hung = gateway.api("/items/hang", method: method, body: body)
                // Once the peer holds that call: the gateway is ready and serves other calls.
                let until = ContinuousClock.now + .seconds(30)
                while try await peer.attempts("hang") != round + 1 {
                    try #require(ContinuousClock.now < until, "the hanging call never reached the peer")
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await Self.expectReady(gateway, "while a call hangs")
                #expect(try await gateway.api("/items/echo/meanwhile").status == .ok)
                let response = try await hung
                let elapsed = ContinuousClock.now - started
                #expect(response.status == .gatewayTimeout, "\(method): \(response.status)")
                #expect(try Self.object(response)["detail"] as? String == "catalog did not answer in time")
                #expect(elapsed >= .milliseconds(900), "\(method): answered after \(elapsed), before PROXY_TIMEOUT")
                #expect(elapsed < .seconds(5), "\(method): answered after \(elapsed)")
                try await Self.expectReady(gateway, "after a 504")
            }
        }
    }
}
