import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
@testable import ServiceKit
import ServiceKitTesting
import Synchronization
import Testing
import W3CTraceContext
import HTTPTypes

/// A service with peers, middleware of its own, a group with its own middleware, and routes that
/// exercise the defects issue 11 found.
enum ContractService {
    enum Upstream: PeerName { static let name = "upstream" }

    /// Adds `X-Service-Layer` and fails requests that carry `X-Refuse`, to show where it runs.
    struct ServiceLayer: RouterMiddleware {
        typealias Context = FleetContext
        func handle(_ request: Request, context: FleetContext, next: (Request, FleetContext) async throws -> Response) async throws -> Response {
            if request.headers[HTTPField.Name("X-Refuse")!] != nil {
                throw HTTPProblem(.forbidden, "Refused by the service's middleware")
            }
            var response = try await next(request, context)
            // It runs inside ServiceKit's identity middleware: the request id is already there.
            response.headers[HTTPField.Name("X-Service-Layer")!] = context.requestID.isEmpty ? "no-id" : "saw-id"
            return response
        }
    }

    struct GroupLayer: RouterMiddleware {
        typealias Context = FleetContext
        func handle(_ request: Request, context: FleetContext, next: (Request, FleetContext) async throws -> Response) async throws -> Response {
            var response = try await next(request, context)
            response.headers[HTTPField.Name("X-Group-Layer")!] = "yes"
            return response
        }
    }

    static func definition(peers: [PeerDeclaration] = []) -> ServiceDefinition {
        ServiceDefinition(
            name: "contract", defaultPort: 0, defaultAdminPort: 0, peers: peers,
            migrations: [Migration(1, "things", statements: ["CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)"])],
            middleware: { _ in [ServiceLayer()] }
        ) { router, _ in
            router.post("/things", status: .created) { (thing: Body<Thing>, database: Depends<Database>) -> ThingOut in
                try await database.value.write { db in
                    let row = try await db.raw("INSERT INTO things (name) VALUES (\(bind: thing.name)) RETURNING id").first()
                    return ThingOut(id: try row!.decode(column: "id", as: Int.self), name: thing.name)
                }
            }
            router.get("/things/{id}") { (path: Path<ThingPath>, database: Depends<Database>) -> ThingOut in
                let row = try await database.value.withConnection { db in
                    try await db.raw("SELECT id, name FROM things WHERE id = \(bind: path.id)").first()
                }
                guard let row else { throw HTTPProblem(.notFound, "Thing not found") }
                // Stored data is decoded through the model's rules, as a service reading its rows does.
                return try row.decode(model: ThingOut.self)
            }
            router.get("/search") { (query: Query<ContractSearch>) -> ThingOut in ThingOut(id: 0, name: query.q) }
            router.get("/upstream/thing") { (upstream: Depends<Peer<Upstream>>) -> ThingOut in
                try await upstream.value.get("/thing")
            }
            let grouped = router.group("/grouped", middleware: [GroupLayer()])
            grouped.get("/hello") { () -> ThingOut in ThingOut(id: 1, name: "group") }
            router.get("/plain") { () -> ThingOut in ThingOut(id: 2, name: "plain") }
        }
    }
}

@Model
struct ContractSearch {
    var q: String = ""
}

@Model
struct NamedThing {
    @Field(maxLength: 5) var name: String
}

/// The ServiceKit contract points of issue 11, each against the real router (and a real socket
/// where the point is about the connection).
@Suite struct FoundationContractTests {
    func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    // MARK: Peers

    @Test func aServiceReadsTheURLOfExactlyThePeersItDeclares() throws {
        let loaded = try ServiceConfiguration.load(
            service: "contract", defaultPort: 0, defaultAdminPort: 0,
            peers: [PeerDeclaration("upstream"), PeerDeclaration("side-car", defaultURL: "http://127.0.0.1:9")],
            environment: EnvironmentReader(["UPSTREAM_URL": "http://127.0.0.1:8082", "CATALOG_URL": "http://127.0.0.1:1"]))
        #expect(loaded.peers["upstream"]?.absoluteString == "http://127.0.0.1:8082")
        #expect(loaded.peers["side-car"]?.absoluteString == "http://127.0.0.1:9")
        #expect(loaded.peers["catalog"] == nil, "an undeclared peer's variable is not read")
        #expect(loaded.environment["CATALOG_URL"] == nil)
        #expect(loaded.environment["UPSTREAM_URL"] != nil)
    }

    @Test func aBadPeerURLOrAMissingRequiredOneNamesTheVariable() {
        #expect(throws: ConfigurationError.self) {
            try ServiceConfiguration.load(service: "contract", defaultPort: 0, defaultAdminPort: 0,
                                          peers: [PeerDeclaration("upstream")], environment: EnvironmentReader(["UPSTREAM_URL": "ftp://x"]))
        }
        do {
            _ = try ServiceConfiguration.load(service: "contract", defaultPort: 0, defaultAdminPort: 0,
                                              peers: [PeerDeclaration("upstream", required: true)], environment: EnvironmentReader([:]))
            Issue.record("a required peer without a URL must not load")
        } catch let error as ConfigurationError {
            #expect(error.variable == "UPSTREAM_URL")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func noFleetServiceIsNamedInTheFramework() throws {
        let root = BuiltProducts.repositoryRoot + "/Shared"
        let enumerator = try #require(FileManager.default.enumerator(atPath: root))
        var offenders: [String] = []
        while let file = enumerator.nextObject() as? String {
            guard file.hasSuffix(".swift") || file.hasSuffix(".c") || file.hasSuffix(".h") else { continue }
            // Code only: doc comments may use the fleet as an example.
            let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
                .split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }.joined(separator: "\n")
            for name in ["\"users\"", "\"catalog\"", "\"orders\"", "\"gateway\"", "USERS_URL", "CATALOG_URL", "ORDERS_URL"] where text.contains(name) {
                offenders.append("\(file): \(name)")
            }
        }
        #expect(offenders.isEmpty, "Shared/ names fleet services: \(offenders)")
    }

    static func readiness(peerPort: Int) async throws -> ProbeReport {
            let url = URL(string: "http://127.0.0.1:\(peerPort)")!
            let peers = [PeerDeclaration("upstream", required: true)]
            return try await InProcessService.with(ContractService.definition(peers: peers), configure: { $0.peers = ["upstream": url] }) { service in
                try await service.migrate()
                service.runtime.probes.markServing()
                return await service.runtime.probes.readiness()
            }
    }

    @Test func aRequiredPeerIsAReadinessCheckThatPassesOnlyWhileItAnswers() async throws {
        let down = try await Self.readiness(peerPort: try FreePort.next())
        #expect(down.checks.first { $0.name == "peer:upstream" }?.status == "fail")
        #expect(!down.passed)

        let upstream = Application(router: Router())
        try await upstream.test(.live) { client in
            let up = try await Self.readiness(peerPort: try #require(client.port))
            #expect(up.checks.first { $0.name == "peer:upstream" }?.status == "pass")
            #expect(up.passed)
        }
    }

    @Test func aCheckThatIgnoresCancellationStillAnswersAtItsDeadline() async throws {
        let gate = Gate()
        let probes = Probes()
        probes.markMigrated()
        probes.markServing()
        probes.register(HealthCheck("stuck") { await gate.wait() })
        let start = ContinuousClock.now
        let first = await probes.readiness(timeout: .milliseconds(300))
        let elapsed = ContinuousClock.now - start
        let stuck = try #require(first.checks.first { $0.name == "stuck" })
        #expect(stuck.status == "fail")
        #expect(stuck.duration_ms >= 300)
        #expect(elapsed < .seconds(5), "the probe answered at its deadline, not when the check ended")
        let second = await probes.readiness(timeout: .milliseconds(300))
        #expect(second.checks.first { $0.name == "stuck" }?.error == "still running from an earlier probe")
        await gate.open()
        var passed = false
        for _ in 0..<200 where !passed {
            passed = await probes.readiness(timeout: .seconds(2)).passed
            if !passed { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(passed, "once the stuck check ends, the next probe runs it again")
    }

    @Test func readinessFailsUntilTheAPIPortIsServing() async throws {
        let probes = Probes()
        probes.markMigrated()
        let before = await probes.readiness()
        #expect(before.checks.first { $0.name == "serving" }?.status == "fail")
        #expect(!before.passed)
        probes.markServing()
        #expect(await probes.readiness().passed)
    }

    // MARK: Middleware and groups

    @Test func theServicesMiddlewareRunsInsideServiceKitsAndItsErrorsAreRendered() async throws {
        try await InProcessService.with(ContractService.definition()) { service in
            try await service.api { client async throws in
                let plain = try await client.execute(uri: "/plain", method: .get)
                #expect(plain.status == .ok)
                #expect(plain.headers[HTTPField.Name("X-Service-Layer")!] == "saw-id")
                #expect(plain.headers[HTTPField.Name("X-Group-Layer")!] == nil, "a group's middleware stays in its group")

                let refused = try await client.execute(uri: "/plain", method: .get, headers: [HTTPField.Name("X-Refuse")!: "1"])
                #expect(refused.status == .forbidden)
                #expect(try json(refused.body)["detail"] as? String == "Refused by the service's middleware")
                #expect(refused.headers[.requestID] != nil, "the error passed ServiceKit's identity middleware")

                let grouped = try await client.execute(uri: "/grouped/hello", method: .get)
                #expect(grouped.headers[HTTPField.Name("X-Group-Layer")!] == "yes")
                #expect(grouped.headers[HTTPField.Name("X-Service-Layer")!] == "saw-id")
            }
            let metrics = String(decoding: service.runtime.metrics.render(), as: UTF8.self)
            #expect(metrics.contains(#"http_route="/plain""#) && metrics.contains(#"http_response_status_code="403""#),
                    "a request refused by the service's middleware is measured")
        }
    }

    @Test func serviceKitsMiddlewareWorkOverAContextOfTheServicesOwn() async throws {
        struct OwnContext: ServiceRequestContext {
            var coreContext: CoreRequestContextStorage
            var requestID = ""
            var trace: TraceContext?
            var parentSpanID: SpanID?
            var limits = RequestLimits()
            var recording = ResponseRecording()
            var connection: (any Channel)? { nil }
            var tenant = "acme"
            init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
        }
        let table = RouteTable()
        let router = Router(context: OwnContext.self)
        router.add(middleware: RequestIdentityMiddleware<OwnContext>(maxBodyBytes: 1024, maxUploadBytes: 1024))
        router.add(middleware: ErrorMiddleware<OwnContext>(routes: table))
        router.get("/tenant") { _, context -> String in
            guard context.tenant == "acme" else { throw HTTPProblem(.badRequest, "no tenant") }
            throw HTTPProblem(.conflict, "tenant \(context.tenant), request \(context.requestID.isEmpty ? "none" : "set")")
        }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(uri: "/tenant", method: .get)
            #expect(response.status == .conflict)
            #expect(try json(response.body)["detail"] as? String == "tenant acme, request set")
            #expect(response.headers[.requestID] != nil)
        }
    }

    // MARK: Routes checked when registered

    @Test func aPathTemplateThatDoesNotFitItsPathModelStopsStartUpNamingTheRoute() async throws {
        let broken = ServiceDefinition(name: "broken", defaultPort: 0, defaultAdminPort: 0) { router, _ in
            router.get("/things/{idd}") { (path: Path<ThingPath>) -> ThingOut in ThingOut(id: path.id, name: "x") }
        }
        let service = try InProcessService.make(broken)
        do {
            _ = try service.runtime.makeAPIRouter()
            Issue.record("a route whose template lacks its path model's field must not register")
        } catch let error as RouteDeclarationError {
            #expect(error.description.contains("GET /things/{idd}"))
            #expect(error.description.contains("'id'"))
        }
        await service.close()
    }

    // MARK: Validation

    @Test func invalidUTF8InsideAJSONStringIsRefusedAsJsonInvalidAndNotStored() async throws {
        try await InProcessService.with(ContractService.definition()) { service in
            try await service.migrate()
            try await service.api { client async throws in
                var body = ByteBuffer(string: #"{"name": ""#)
                body.writeBytes([0xFF, 0xFE])
                body.writeString(#"", "price": 1, "email": "a@b.co", "parts": [{"label": "ab", "count": 1}]}"#)
                let response = try await client.execute(uri: "/things", method: .post, headers: [.contentType: "application/json"], body: body)
                #expect(response.status == .unprocessableContent)
                let issue = try #require((try json(response.body)["detail"] as? [[String: Any]])?.first)
                #expect(issue["type"] as? String == "json_invalid")
            }
            let count = try await service.runtime.database.withConnection { db in
                try await db.raw("SELECT count(*) AS n FROM things").first()!.decode(column: "n", as: Int.self)
            }
            #expect(count == 0)
        }
    }

    @Test func aNULCharacterInABodyStringOrAQueryValueIs422() async throws {
        try await InProcessService.with(ContractService.definition()) { service in
            try await service.migrate()
            try await service.api { client async throws in
                let body = #"{"name": "a\u0000b", "price": 1, "email": "a@b.co", "parts": [{"label": "ab", "count": 1}]}"#
                let response = try await client.execute(uri: "/things", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
                #expect(response.status == .unprocessableContent)
                let issue = try #require((try json(response.body)["detail"] as? [[String: Any]])?.first)
                #expect(issue["type"] as? String == "value_error")
                #expect(issue["loc"] as? [String] == ["body", "name"])
            }
        }
        try await InProcessService.with(ContractService.definition()) { service in
            try await service.api { client async throws in
                let response = try await client.execute(uri: "/search?q=a%00b", method: .get)
                #expect(response.status == .unprocessableContent)
                let issue = try #require((try json(response.body)["detail"] as? [[String: Any]])?.first)
                #expect(issue["loc"] as? [String] == ["query", "q"])
                let fine = try await client.execute(uri: "/search?q=ab", method: .get)
                #expect(fine.status == .ok)
            }
        }
    }

    @Test func stringLengthsCountCodePointsAsPydanticDoes() throws {
        let combined = "e" + String(repeating: "\u{0301}", count: 5000)
        #expect(combined.count == 1)
        #expect(throws: ValidationFailure.self) { try NamedThing.validate(.object(["name": .string(combined)])) }
        #expect(try NamedThing.validate(.object(["name": .string("\u{1F600}\u{1F600}\u{1F600}")])).name.unicodeScalars.count == 3)
    }

    @Test func storedDataThatBreaksItsModelIs500ForTheCallerNot422() async throws {
        let logs = CapturedLogs()
        try await InProcessService.with(ContractService.definition(), logHandler: logs.factory) { service in
            try await service.migrate()
            _ = try await service.runtime.database.write { db in
                // A row the model cannot accept (its name is required), as a bad migration could leave.
                try await db.raw("INSERT INTO things (id, name) VALUES (7, NULL)").run()
            }
            try await service.api { client async throws in
                let response = try await client.execute(uri: "/things/7", method: .get)
                #expect(response.status == .internalServerError)
            }
            #expect(logs.records.contains { $0.message == "unhandled error" })
        }
    }

    @Test func aPeersAnswerThatBreaksTheModelIs502NotA422() async throws {
        let upstreamRouter = Router()
        upstreamRouter.get("/thing") { _, _ in #"{"id": "not a number", "name": 7}"# }
        try await Application(router: upstreamRouter).test(.live) { upstream in
            let url = URL(string: "http://127.0.0.1:\(try #require(upstream.port))")!
            let logs = CapturedLogs()
            try await InProcessService.with(ContractService.definition(peers: [PeerDeclaration("upstream")]), logHandler: logs.factory,
                                            configure: { $0.peers = ["upstream": url] }) { service in
                try await service.api { client async throws in
                    let response = try await client.execute(uri: "/upstream/thing", method: .get)
                    #expect(response.status == .badGateway)
                }
            }
            #expect(logs.records.contains { $0.message == "peer call failed" }, "the bad answer is logged")
        }
    }

    // MARK: 413 ends the exchange

    @Test func after413TheConnectionIsClosedAndNoMoreOfTheBodyIsRead() async throws {
        try await InProcessService.with(ContractService.definition(), configure: { $0.maxBodyBytes = 1024 }) { service in
            try await service.migrate()
            try await service.api(.live) { client async throws in
                let connection = try RawHTTPConnection(port: try #require(client.port))
                let head = "POST /things HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                let chunk = String(repeating: "x", count: 4096)
                #expect(await connection.send(head + String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n"))
                let response = try #require(await connection.readResponse())
                #expect(response.status == 413)
                // An endless body: the server must stop reading and close within a second.
                let answered = ContinuousClock.now
                var closedAfter: Duration?
                for _ in 0..<20_000 {
                    let sent = await connection.send(String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n")
                    if !sent { closedAfter = ContinuousClock.now - answered; break }
                    if ContinuousClock.now - answered > .seconds(5) { break }
                }
                let closed = try #require(closedAfter, "the server kept reading the body after its 413")
                #expect(closed < .seconds(1))
            }
        }
    }

    // MARK: Request ids

    @Test func theNextRequestIDCannotBeComputedFromThePreviousOne() async throws {
        try await InProcessService.with(DemoService.definition) { service in
            try await service.api { client async throws in
                var ids: [UInt64] = []
                for _ in 0..<32 {
                    let response = try await client.execute(uri: "/hello", method: .get)
                    // A generated request id is the new trace id: 32 hex digits, the low 64 bits last drawn.
                    let id = try #require(response.headers[.requestID])
                    ids.append(try #require(UInt64(id.suffix(16), radix: 16)))
                }
                // The old generator (SplitMix64 over a shared counter) could be run forward from
                // one id: each request drew a few steps after the last.
                var predicted = 0
                for (previous, next) in zip(ids, ids.dropFirst()) {
                    for steps in UInt64(1)...4 where SplitMix.next(after: previous, steps: steps) == next { predicted += 1 }
                }
                #expect(predicted == 0)
                #expect(Set(ids).count == ids.count)
            }
        }
    }

    // MARK: No request waits on a lock held across slow work

    @Test func aRequestForTheDocumentDoesNotWaitWhileAnotherBuildsIt() async throws {
        let firstBuildMayFinish = DispatchSemaphore(value: 0)
        let builds = Mutex(0)
        let document = LazyDocument {
            let number = builds.withLock { count -> Int in
                count += 1
                return count
            }
            if number == 1 { firstBuildMayFinish.wait() }
            return Data("{}".utf8)
        }
        let firstStarted = DispatchSemaphore(value: 0)
        Thread {
            firstStarted.signal()
            _ = try? document.bytes()
        }.start()
        firstStarted.wait()
        while builds.withLock({ $0 }) == 0 { usleep(1000) }
        // The first build is stuck; a second reader must not wait for it behind a lock.
        let second = DispatchSemaphore(value: 0)
        Thread {
            _ = try? document.bytes()
            second.signal()
        }.start()
        let answered = second.wait(timeout: .now() + 10) == .success
        firstBuildMayFinish.signal()
        #expect(answered, "the second request waited for the first one's build")
    }

    // MARK: One JSON writer

    @Test func answersAndLogLinesEscapeAndWriteNumbersAlike() throws {
        let text = "q\"\\\n\r\t\u{01}\u{1F}é"
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("text", text)
        writer.key("inf")
        writer.double(.infinity)
        writer.endObject()
        let answer = String(buffer: writer.buffer)
        var line = JSONLineWriter()
        line.field("text", string: text)
        line.field("inf", number: .infinity)
        let logged = String(decoding: line.finish(), as: UTF8.self)
        #expect(answer == logged)
        #expect(answer == #"{"text":"q\"\\\n\r\t\u0001\u001fé","inf":null}"#)
    }
}

/// The old generator's step, to show its ids were predictable.
enum SplitMix {
    static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    static func mix(_ state: UInt64) -> UInt64 {
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func unmix(_ output: UInt64) -> UInt64 {
        var z = unshift(output, 31)
        z = z &* inverse(0x94D0_49BB_1331_11EB)
        z = unshift(z, 27)
        z = z &* inverse(0xBF58_476D_1CE4_E5B9)
        return unshift(z, 30)
    }

    static func next(after output: UInt64, steps: UInt64) -> UInt64 { mix(unmix(output) &+ golden &* steps) }

    private static func unshift(_ value: UInt64, _ shift: UInt64) -> UInt64 {
        var result = value
        var step = shift
        while step < 64 {
            result = value ^ (result >> shift)
            step += shift
        }
        return value ^ (result >> shift)
    }

    private static func inverse(_ odd: UInt64) -> UInt64 {
        var x = odd
        for _ in 0..<5 { x = x &* (2 &- odd &* x) }
        return x
    }
}

/// A wait that ignores cancellation until the test opens it (a pool lease, say); opened once, it
/// lets every later wait through.
actor Gate {
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var isOpen = false

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }
}
