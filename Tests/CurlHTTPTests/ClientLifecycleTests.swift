import CurlHTTP
import Foundation
import NIOCore
import ServiceLifecycle
import Testing

/// Shutdown, and what is left of a client after it: no handle, no thread, no socket.
@Suite struct ClientLifecycleTests {
    @Test func tenThousandRequestsLeakNoHandleThreadOrSocket() async throws {
        try await withTestServer { base, _ in
            let port = Int(base.split(separator: ":").last!)!
            #expect(threads(named: "curl-leak") == 0)
            // Hummingbird's live test framework keeps a connection of its own to the server.
            let baseline = socketsConnected(toPort: port)
            var configuration = ClientConfiguration()
            configuration.threadName = "curl-leak"
            let client = CurlClient(configuration: configuration)
            try await waitUntil { threads(named: "curl-leak") == 1 }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<32 {
                    group.addTask {
                        for n in stride(from: worker, to: 10_000, by: 32) {
                            let response = try await client.execute(ClientRequest(url: "\(base)/echo/\(n)"))
                            let body = try await response.body.collect(upTo: 64)
                            guard String(buffer: body) == String(n) else { throw CurlHTTPError.decoding }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(client.statistics.inFlight == 0)
            let open = socketsConnected(toPort: port) - baseline
            #expect(open >= 1 && open <= 32, "connections are pooled, not one per request: \(open)")
            await client.shutdown()
            #expect(client.statistics.liveHandles == 0)
            try await waitUntil { threads(named: "curl-leak") == 0 }
            try await waitUntil { socketsConnected(toPort: port) == baseline }
        }
    }

    @Test func shutdownLetsAnInFlightCallFinishAndRefusesNewOnes() async throws {
        try await withTestServer { base, _ in
            var configuration = ClientConfiguration()
            configuration.threadName = "curl-drain"
            let client = CurlClient(configuration: configuration)
            async let slow = client.execute(ClientRequest(url: "\(base)/slow?ms=300")).body.collect(upTo: 64)
            try await Task.sleep(for: .milliseconds(100))
            await client.shutdown()
            #expect(String(buffer: try await slow) == "late")
            await #expect(throws: CurlHTTPError.shutdown) {
                _ = try await client.execute(ClientRequest(url: "\(base)/echo/1"))
            }
        }
    }

    @Test func asAServiceItStopsWithItsGroup() async throws {
        try await withTestServer { base, _ in
            var configuration = ClientConfiguration()
            configuration.threadName = "curl-service"
            let client = CurlClient(configuration: configuration)
            let group = ServiceGroup(services: [client], logger: .init(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let response = try await client.execute(ClientRequest(url: "\(base)/echo/7"))
                #expect(String(buffer: try await response.body.collect(upTo: 64)) == "7")
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            #expect(client.statistics.liveHandles == 0)
            try await waitUntil { threads(named: "curl-service") == 0 }
        }
    }
}
