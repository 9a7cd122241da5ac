import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceKitTesting
import Testing
import W3CTraceContext

/// What the backend saw of a call: the tracing and request-id headers the caller's client sent.
@Model
struct SeenHeaders {
    var traceparent: String?
    var requestId: String?
}

struct IncomingTracingHeaders: Dependency {
    static func resolve(in scope: RequestScope) async throws -> SeenHeaders {
        SeenHeaders(traceparent: scope.request.headers[.traceparent], requestId: scope.request.headers[.requestID])
    }
}

enum PeerDemo {
    /// The peer being called.
    static let backend = ServiceDefinition(name: "backend", defaultPort: 0, defaultAdminPort: 0) { router, _ in
        router.get("/seen") { (seen: Depends<IncomingTracingHeaders>) -> SeenHeaders in seen.value }
        router.get("/slow") { () -> SeenHeaders in
            try await Task.sleep(for: .milliseconds(1500))
            return SeenHeaders()
        }
    }

    /// The caller: relays what the backend saw.
    static let front = ServiceDefinition(name: "front", defaultPort: 0, defaultAdminPort: 0) { router, _ in
        router.get("/relay") { (peers: Depends<Peers>) -> SeenHeaders in
            try await peers.value.peer("backend").get("/seen")
        }
        router.get("/relay-slow") { (peers: Depends<Peers>) -> SeenHeaders in
            try await peers.value.peer("backend").get("/slow")
        }
    }
}

/// Peer calls from a route: one trace across services, the request id forwarded, the calls in the
/// caller's metrics, and a failing peer answered as 503/504 rather than 500.
@Suite struct PeerCallTests {
    func withFront(backend port: Int, peerTimeout: Duration = .seconds(5), _ body: @escaping @Sendable (any TestClientProtocol, InProcessService) async throws -> Void) async throws {
        try await InProcessService.with(PeerDemo.front, configure: { configuration in
            configuration.peers = ["backend": URL(string: "http://127.0.0.1:\(port)")!]
            configuration.peerTimeout = peerTimeout
        }) { front in
            try await front.api { client in try await body(client, front) }
        }
    }

    @Test func aPeerCallContinuesTheTraceAndForwardsTheRequestID() async throws {
        try await InProcessService.with(PeerDemo.backend) { backend in
            try await backend.api(.live) { backendClient in
                try await withFront(backend: backendClient.port!) { client, _ in
                    let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
                    let response = try await client.execute(uri: "/relay", method: .get, headers: [
                        .traceparent: "00-\(traceID)-00f067aa0ba902b7-01", .requestID: "relay-1",
                    ])
                    #expect(response.status == .ok)
                    let seen = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: String]
                    let parent = try TraceContext(traceParentHeaderValue: try #require(seen?["traceparent"]))
                    #expect(parent.traceID.description == traceID)
                    #expect(parent.spanID.description != "00f067aa0ba902b7", "the peer call is a new span")
                    #expect(seen?["request_id"] == "relay-1")
                }
            }
        }
    }

    @Test func peerCallsAppearInTheCallersMetricsUnderThePeersName() async throws {
        try await InProcessService.with(PeerDemo.backend) { backend in
            try await backend.api(.live) { backendClient in
                try await withFront(backend: backendClient.port!) { client, front in
                    let response = try await client.execute(uri: "/relay", method: .get)
                    #expect(response.status == .ok)
                    var text = [UInt8]()
                    front.runtime.metrics.registry.emit(into: &text)
                    let exposition = String(decoding: text, as: UTF8.self)
                    #expect(exposition.contains(#"http_client_request_duration_seconds_count{peer="backend",http_request_method="GET",http_response_status_code="200",error_type=""} 1"#), "\(exposition)")
                }
            }
        }
    }

    @Test func anUnreachablePeerIsA503WithAClearDetail() async throws {
        let closed = try ClosedPort()  // bound, not listening: refused, and nobody else's meanwhile
        try await withFront(backend: closed.port) { client, _ in
            let response = try await client.execute(uri: "/relay", method: .get)
            #expect(response.status == .serviceUnavailable)
            #expect(String(buffer: response.body) == #"{"detail":"Upstream service unavailable"}"#)
        }
        _ = closed.port
    }

    @Test func aPeerSlowerThanPeerTimeoutIsA504() async throws {
        try await InProcessService.with(PeerDemo.backend) { backend in
            try await backend.api(.live) { backendClient in
                try await withFront(backend: backendClient.port!, peerTimeout: .milliseconds(200)) { client, _ in
                    let response = try await client.execute(uri: "/relay-slow", method: .get)
                    #expect(response.status == .gatewayTimeout)
                    #expect(String(buffer: response.body) == #"{"detail":"Upstream service timed out"}"#)
                }
            }
        }
    }
}
