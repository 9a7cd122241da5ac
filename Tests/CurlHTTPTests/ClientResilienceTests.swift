@testable import CurlHTTP
import Foundation
import HTTPTypes
import NIOCore
import Prometheus
import ServiceKitTesting
import Testing

/// Retries with backoff for idempotent calls only, the retry budget and the circuit breaker.
@Suite struct ClientResilienceTests {
    func configuration(_ name: String, attempts: Int = 3, registry: PrometheusCollectorRegistry? = nil) -> ClientConfiguration {
        var configuration = ClientConfiguration()
        configuration.threadName = name
        configuration.retry = RetryPolicy(maxAttempts: attempts, baseBackoff: .milliseconds(5), maxBackoff: .milliseconds(20))
        configuration.circuitBreaker = CircuitBreakerPolicy(failureThreshold: 100)
        if let registry { configuration.metricsFactory = PrometheusMetricsFactory(registry: registry) }
        return configuration
    }

    @Test func aGetIsRetriedOn503UntilItSucceeds() async throws {
        try await withTestServer { base, ledger in
            try await CurlClient.withClient(configuration: configuration("curl-retry")) { client in
                ledger.failuresLeft.store(2, ordering: .relaxed)
                let response = try await client.execute(ClientRequest(url: "\(base)/flaky"))
                #expect(response.status == .ok)
                #expect(String(buffer: try await response.body.collect(upTo: 64)) == "ok")
                #expect(ledger.hits.load(ordering: .relaxed) == 3)
            }
        }
    }

    @Test func retriesStopAtMaxAttemptsAndReturnTheLastAnswer() async throws {
        try await withTestServer { base, ledger in
            try await CurlClient.withClient(configuration: configuration("curl-maxtry")) { client in
                ledger.failuresLeft.store(10, ordering: .relaxed)
                let response = try await client.execute(ClientRequest(url: "\(base)/flaky"))
                #expect(response.status == .serviceUnavailable)
                #expect(ledger.hits.load(ordering: .relaxed) == 3)
            }
        }
    }

    @Test func aPostIsNeverRetried() async throws {
        try await withTestServer { base, ledger in
            try await CurlClient.withClient(configuration: configuration("curl-post")) { client in
                ledger.failuresLeft.store(2, ordering: .relaxed)
                let response = try await client.execute(ClientRequest(method: .post, url: "\(base)/flaky", body: .bytes(Array("{}".utf8))))
                #expect(response.status == .serviceUnavailable)
                #expect(ledger.hits.load(ordering: .relaxed) == 1)
            }
        }
    }

    @Test func aDroppedConnectionIsRetriedForAGetAndNotForAPost() async throws {
        try await DroppingServer.with { server in
            try await CurlClient.withClient(configuration: configuration("curl-dropped")) { client in
                let url = "http://127.0.0.1:\(server.port)/"
                await #expect(throws: CurlHTTPError.connectionClosed) {
                    _ = try await client.execute(ClientRequest(url: url))
                }
                #expect(server.accepted == 3)
                await #expect(throws: CurlHTTPError.connectionClosed) {
                    _ = try await client.execute(ClientRequest(method: .post, url: url, body: .bytes(Array("x".utf8))))
                }
                #expect(server.accepted == 4)
            }
        }
    }

    @Test func theRetryBudgetCapsRetriesUnderSustainedFailure() async throws {
        let registry = PrometheusCollectorRegistry()
        var budgeted = configuration("curl-budget", attempts: 5, registry: registry)
        budgeted.retryBudget = RetryBudgetPolicy(ratio: 0.1, minimumPerSecond: 0.001)
        let configuration = budgeted
        try await withTestServer { base, ledger in
            try await CurlClient.withClient(configuration: configuration) { client in
                ledger.failuresLeft.store(10_000, ordering: .relaxed)
                for _ in 0..<20 {
                    _ = try await client.execute(ClientRequest(url: "\(base)/flaky", peer: "flaky")).body.collect(upTo: 1024)
                }
                let hits = ledger.hits.load(ordering: .relaxed)
                // Without a budget: 20 × 5 = 100 attempts. With it: 20 first attempts and the retries that
                // one starting token plus 20 × 0.1 deposits pay for (the time-based refill is ~0 here).
                #expect(hits >= 21 && hits <= 25, "\(hits) attempts")
            }
        }
        var text = [UInt8]()
        registry.emit(into: &text)
        #expect(String(decoding: text, as: UTF8.self).contains(#"http_client_retries_total{peer="flaky",outcome="budget_exhausted"}"#))
    }

    @Test func theCircuitOpensAfterRepeatedFailuresThenHalfOpensAndCloses() async throws {
        let registry = PrometheusCollectorRegistry()
        var configuration = ClientConfiguration()
        configuration.threadName = "curl-breaker"
        configuration.retry = .none
        configuration.circuitBreaker = CircuitBreakerPolicy(failureThreshold: 3, openDuration: .milliseconds(300))
        configuration.metricsFactory = PrometheusMetricsFactory(registry: registry)
        let gauge: @Sendable () -> String = {
            var text = [UInt8]()
            registry.emit(into: &text)
            return String(decoding: text, as: UTF8.self)
        }
        let breaking = configuration
        try await withTestServer { base, ledger in
            try await CurlClient.withClient(configuration: breaking) { client in
                ledger.failing.store(true, ordering: .relaxed)
                for _ in 0..<3 {
                    #expect(try await client.execute(ClientRequest(url: "\(base)/status", peer: "catalog")).status == .internalServerError)
                }
                #expect(client.circuitState(of: "catalog") == .open)
                #expect(gauge().contains(#"http_client_circuit_state{peer="catalog"} 2"#))
                await #expect(throws: CurlHTTPError.circuitOpen) {
                    _ = try await client.execute(ClientRequest(url: "\(base)/status", peer: "catalog"))
                }
                #expect(ledger.hits.load(ordering: .relaxed) == 3, "an open circuit sends nothing")

                try await Task.sleep(for: .milliseconds(350))
                ledger.failing.store(false, ordering: .relaxed)
                #expect(try await client.execute(ClientRequest(url: "\(base)/status", peer: "catalog")).status == .ok)
                #expect(client.circuitState(of: "catalog") == .closed)
                #expect(gauge().contains(#"http_client_circuit_state{peer="catalog"} 0"#))
            }
        }
    }

    @Test func aFailedTrialReopensTheCircuit() async throws {
        var configuration = ClientConfiguration()
        configuration.threadName = "curl-trial"
        configuration.retry = .none
        configuration.circuitBreaker = CircuitBreakerPolicy(failureThreshold: 1, openDuration: .milliseconds(100))
        let port = try FreePort.next()
        try await CurlClient.withClient(configuration: configuration) { client in
            let request = ClientRequest(url: "http://127.0.0.1:\(port)/", peer: "gone")
            await #expect(throws: CurlHTTPError.connectionRefused) { _ = try await client.execute(request) }
            #expect(client.circuitState(of: "gone") == .open)
            try await Task.sleep(for: .milliseconds(150))
            await #expect(throws: CurlHTTPError.connectionRefused) { _ = try await client.execute(request) }
            #expect(client.circuitState(of: "gone") == .open)
            await #expect(throws: CurlHTTPError.circuitOpen) { _ = try await client.execute(request) }
        }
    }
}

/// The pure pieces of the retry policy.
@Suite struct RetryPolicyTests {
    @Test func backoffIsFullJitterUnderADoublingCap() {
        let policy = RetryPolicy(maxAttempts: 5, baseBackoff: .milliseconds(100), maxBackoff: .milliseconds(800))
        var generator = SystemRandomNumberGenerator()
        for retry in 0..<6 {
            let cap = min(800, 100 * (1 << retry))
            let draws = (0..<200).map { _ in policy.backoff(beforeRetry: retry, using: &generator) }
            let ceiling = Duration.milliseconds(cap)
            #expect(draws.allSatisfy { $0 >= .zero && $0 <= ceiling })
            #expect(draws.contains { $0 < ceiling / 2 }, "jitter reaches below half the cap")
        }
    }

    @Test func onlyIdempotentMethodsAreIdempotent() {
        let methods: [HTTPRequest.Method] = [.get, .head, .put, .delete, .options, .trace]
        #expect(methods.allSatisfy { ClientRequest(method: $0, url: "http://127.0.0.1/").isIdempotent })
        #expect(!ClientRequest(method: .post, url: "http://127.0.0.1/").isIdempotent)
        #expect(!ClientRequest(method: .patch, url: "http://127.0.0.1/").isIdempotent)
    }
}

/// The default peer name, which labels metrics and keys circuit breakers.
@Suite struct PeerNameTests {
    @Test func aURLsPeerIsItsHostAndPort() {
        #expect(CurlClient.peerName(of: "http://127.0.0.1:8082/items/1?q=x") == "127.0.0.1:8082")
        #expect(CurlClient.peerName(of: "https://user:secret@catalog.fleet.svc/items") == "catalog.fleet.svc")
        #expect(CurlClient.peerName(of: "http://[::1]:9090") == "[::1]:9090")
        #expect(CurlClient.peerName(of: "http://orders?x=1") == "orders")
        #expect(CurlClient.peerName(of: "") == "unknown")
    }
}
