import Foundation
import Hummingbird
import NIOEmbedded
import ServiceKit
import ServiceKitTesting
import Synchronization
import Testing

/// When a request counts as done for the duration histogram and the access log: an answer whose
/// body is in memory when the handler returns, a streamed one once its last byte is written.
@Suite struct RequestRecordingTests {
    @Model struct Greeting {
        var message: String
    }

    static let definition = ServiceDefinition(name: "recording", defaultPort: 0, defaultAdminPort: 0) { router, _ in
        router.get("/hello") { () -> Greeting in Greeting(message: "hi") }
        router.get("/missing") { () -> Greeting in throw HTTPProblem.notFound("Nothing here") }
        router.on(.get, "/stream") { _, _ in
            Response(status: .ok, body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "a"))
                try await Task.sleep(for: .milliseconds(300))
                try await writer.write(ByteBuffer(string: "b"))
                try await writer.finish(nil)
            })
        }
    }

    /// What a body wrote, as the connection would have sent it.
    final class Collected: Sendable {
        let bytes = Mutex<[UInt8]>([])
        var text: String { bytes.withLock { String(decoding: $0, as: UTF8.self) } }
    }

    static func write(_ response: Response) async throws -> String {
        let collected = Collected()
        try await response.body.write(CollectingWriter(collected: collected))
        return collected.text
    }

    struct CollectingWriter: ResponseBodyWriter {
        let collected: Collected
        mutating func write(_ buffer: ByteBuffer) async throws {
            collected.bytes.withLock { $0.append(contentsOf: buffer.readableBytesView) }
        }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    /// The histogram's count and sum for one route and status, from the service's own registry.
    static func recorded(_ service: InProcessService, route: String, status: Int) -> (count: Int, sum: Double)? {
        let text = String(decoding: service.runtime.metrics.render(), as: UTF8.self)
        let labels = #"{http_route="\#(route)",http_request_method="GET",http_response_status_code="\#(status)"}"#
        func value(_ name: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(name + labels + " ") }
                .flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        guard let count = value("http_server_request_duration_seconds_count"),
            let sum = value("http_server_request_duration_seconds_sum")
        else { return nil }
        return (Int(count), sum)
    }

    /// The service's API router as Hummingbird runs it, and a request context for it.
    static func responder(_ service: InProcessService) throws -> (RouterResponder<FleetContext>, FleetContext) {
        let responder = try service.runtime.makeAPIRouter().buildResponder()
        let context = FleetContext(source: .init(channel: EmbeddedChannel(), logger: service.runtime.logger))
        return (responder, context)
    }

    static func request(_ path: String) -> Request {
        Request(head: HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: path), body: RequestBody(buffer: ByteBuffer()))
    }

    @Test func anInMemoryAnswerIsRecordedAsSoonAsItIsReturnedBeforeItsBodyIsWritten() async throws {
        try await InProcessService.with(Self.definition) { service in
            let (responder, context) = try Self.responder(service)

            let hello = try await responder.respond(to: Self.request("/hello"), context: context)
            #expect(Self.recorded(service, route: "/hello", status: 200)?.count == 1)
            #expect(try await Self.write(hello) == #"{"message":"hi"}"#)

            // A rendered error is in memory too.
            let missing = try await responder.respond(to: Self.request("/missing"), context: context)
            #expect(missing.status == .notFound)
            #expect(Self.recorded(service, route: "/missing", status: 404)?.count == 1)
            _ = try await Self.write(missing)
            #expect(Self.recorded(service, route: "/missing", status: 404)?.count == 1)
        }
    }

    @Test func aStreamedAnswerIsRecordedOnceItsLastByteIsWrittenWithTheWritingTimed() async throws {
        try await InProcessService.with(Self.definition) { service in
            let (responder, context) = try Self.responder(service)

            let stream = try await responder.respond(to: Self.request("/stream"), context: context)
            #expect(Self.recorded(service, route: "/stream", status: 200) == nil)
            #expect(service.runtime.metrics.requestsInFlight == 1)
            #expect(try await Self.write(stream) == "ab")
            let recorded = try #require(Self.recorded(service, route: "/stream", status: 200))
            #expect(recorded.count == 1)
            #expect(recorded.sum >= 0.3)
            #expect(service.runtime.metrics.requestsInFlight == 0)
        }
    }
}
