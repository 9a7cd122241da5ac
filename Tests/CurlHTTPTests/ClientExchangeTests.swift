import CurlHTTP
import Foundation
import HTTPTypes
import NIOCore
import Prometheus
import Testing
import W3CTraceContext

/// Plain exchanges: bodies, JSON, reuse, compression and the headers a caller's context adds.
@Suite struct ClientExchangeTests {
    func configuration(_ name: String, registry: PrometheusCollectorRegistry? = nil) -> ClientConfiguration {
        var configuration = ClientConfiguration()
        configuration.threadName = name
        if let registry { configuration.metricsFactory = PrometheusMetricsFactory(registry: registry) }
        return configuration
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        try await withTestServer { base, ledger in
            try await CurlClient.withClient(configuration: configuration("curl-reuse")) { client in
                for n in 0..<50 {
                    let response = try await client.execute(ClientRequest(url: "\(base)/echo/\(n)"))
                    #expect(String(buffer: try await response.body.collect(upTo: 64)) == String(n))
                }
                #expect(ledger.ports.withLock { $0.count } == 1)
            }
        }
    }

    struct Greeting: Codable, Equatable {
        var name: String
        var count: Int
    }

    @Test func jsonIsEncodedAndDecodedAsTypes() async throws {
        try await withTestServer { base, ledger in
            try await CurlClient.withClient(configuration: configuration("curl-json")) { client in
                let echoed: Greeting = try await client.post("\(base)/json", json: Greeting(name: "ada", count: 3))
                #expect(echoed == Greeting(name: "ada", count: 3))
                #expect(ledger.lastHeaders.withLock { $0[.contentType] } == "application/json")
            }
        }
    }

    @Test func aNon2xxAnswerToAJSONCallIsAnHTTPStatusError() async throws {
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: configuration("curl-status")) { client in
                let error = await #expect(throws: CurlHTTPError.self) {
                    let _: Greeting = try await client.get("\(base)/nowhere")
                }
                #expect(error?.status == 404)
                #expect(error?.kind == "http_status")
            }
        }
    }

    @Test func gzipAnswersAreDecodedAndAcceptEncodingIsSent() async throws {
        try await withTestServer { base, ledger in
            try await CurlClient.withClient(configuration: configuration("curl-gzip")) { client in
                let response = try await client.execute(ClientRequest(url: "\(base)/gzip"))
                #expect(response.status == .ok)
                #expect(String(buffer: try await response.body.collect(upTo: 1 << 20)) == gzipPlainText)
                let sent = ledger.lastHeaders.withLock { $0[.acceptEncoding] } ?? ""
                #expect(sent.contains("gzip") && sent.contains("deflate"))
            }
        }
    }

    @Test func theCallersTraceAndRequestIDAreForwarded() async throws {
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: configuration("curl-trace")) { client in
                var generator = SystemRandomNumberGenerator()
                let trace = TraceContext(
                    traceID: .random(using: &generator), spanID: .random(using: &generator), flags: .sampled,
                    state: TraceState([(.simple("fleet"), "x1")]))
                let headers: [String: String] = try await OutboundContext.$current.withValue(OutboundContext(trace: trace, requestID: "req-42")) {
                    try await client.get("\(base)/headers")
                }
                let parent = try #require(headers["traceparent"])
                let received = try TraceContext(traceParentHeaderValue: parent, traceStateHeaderValue: headers["tracestate"])
                #expect(received.traceID == trace.traceID, "one trace spans the call")
                #expect(received.spanID != trace.spanID, "the call is a child span")
                #expect(headers["tracestate"] == "fleet=x1")
                #expect(headers["x-request-id"] == "req-42")
            }
        }
    }

    @Test func withoutACallerContextNoTracingHeadersAreInvented() async throws {
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: configuration("curl-notrace")) { client in
                let headers: [String: String] = try await client.get("\(base)/headers")
                #expect(headers["traceparent"] == nil)
                #expect(headers["x-request-id"] == nil)
            }
        }
    }

    @Test func everyCallIsCountedPerPeerMethodAndStatus() async throws {
        let registry = PrometheusCollectorRegistry()
        try await withTestServer { base, _ in
            try await CurlClient.withClient(configuration: configuration("curl-metrics", registry: registry)) { client in
                for _ in 0..<3 {
                    _ = try await client.execute(ClientRequest(url: "\(base)/echo/1", peer: "catalog")).body.collect(upTo: 64)
                }
                _ = try await client.execute(ClientRequest(url: "\(base)/nowhere", peer: "catalog")).body.collect(upTo: 1024)
            }
        }
        var text = [UInt8]()
        registry.emit(into: &text)
        let exposition = String(decoding: text, as: UTF8.self)
        #expect(exposition.contains(#"http_client_request_duration_seconds_count{peer="catalog",http_request_method="GET",http_response_status_code="200",error_type=""} 3"#), "\(exposition)")
        #expect(exposition.contains(#"http_client_requests_total{peer="catalog",http_request_method="GET",http_response_status_code="404",error_type=""} 1"#))
    }
}
