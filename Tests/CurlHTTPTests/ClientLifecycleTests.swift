import CurlHTTP
import Foundation
import NIOCore
import ServiceLifecycle
import Testing

/// Shutdown, and what is left of a client after it: no handle, no thread, no socket.
@Suite struct ClientLifecycleTests {
    @Test func shutdownLetsAnInFlightCallFinishAndRefusesNewOnes() async throws {
        try await withTestServer { base, _ in
            var configuration = ClientConfiguration()
            configuration.threadName = "curl-drain"
            let client = CurlClient(configuration: configuration)
            async let slow = client.execute(ClientRequest(url: "\(base)/slow?ms=300")).body.collect(upTo: 64)
            try await waitUntil("the slow call is in flight") { client.statistics.inFlight == 1 }
            await client.shutdown()
            #expect(String(buffer: try await slow) == "late")
            await #expect(throws: CurlHTTPError.shutdown) {
                _ = try await client.execute(ClientRequest(url: "\(base)/echo/1"))
            }
        }
    }

    @Test func loadingLibcurlHoldsNoLockThatOtherUsesOfTheClientWaitOn() async throws {
        try await withTestServer { base, _ in
            var configuration = ClientConfiguration()
            configuration.threadName = "curl-slow-load"
            let real = configuration.loadLibrary
            configuration.loadLibrary = {
                usleep(800_000)  // a cold dlopen of thirty libraries, exaggerated
                return real()
            }
            let client = CurlClient(configuration: configuration)
            async let first = client.execute(ClientRequest(url: "\(base)/echo/1")).body.collect(upTo: 64)
            try await Task.sleep(for: .milliseconds(100))
            // While the first call loads libcurl (on NIO's thread pool), the client's lock is free:
            // these answer at once, not after the load (the load used to run under that lock).
            let start = ContinuousClock.now
            _ = client.statistics
            _ = client.circuitState(of: "anything")
            #expect(ContinuousClock.now - start < .milliseconds(500), "the load held the client's lock")
            #expect(String(buffer: try await first) == "1")
            await client.shutdown()
        }
    }

    @Test func aShutdownCutShortAbortsWhatIsStillInFlight() async throws {
        try await withTestServer { base, _ in
            var configuration = ClientConfiguration()
            configuration.threadName = "curl-abort"
            let client = CurlClient(configuration: configuration)
            let start = ContinuousClock.now
            let slow = Task { try await client.execute(ClientRequest(url: "\(base)/slow?ms=2000")) }
            try await Task.sleep(for: .milliseconds(100))
            let stopping = Task { await client.shutdown() }
            try await Task.sleep(for: .milliseconds(100))
            stopping.cancel()
            await stopping.value
            await #expect(throws: CurlHTTPError.shutdown) { _ = try await slow.value }
            #expect(ContinuousClock.now - start < .milliseconds(1500), "aborted, not awaited")
            try await waitUntil("the driver thread exited") { threads(named: "curl-abort") == 0 }
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
            try await waitUntil("the driver thread exited") { threads(named: "curl-service") == 0 }
        }
    }
}
