import CurlHTTP
import Foundation
import NIOCore
import ServiceKitTesting
import Testing

/// HTTP/2, negotiated over TLS (ALPN), against nghttpd: nghttp2's reference server, from Debian.
@Suite struct HTTP2Tests {
    /// nghttpd serving `body.txt` over TLS with a certificate made for the test; stopped however `body` ends.
    func withHTTP2Server(_ body: (_ port: Int, _ caFile: String) async throws -> Void) async throws {
        let directory = try TemporaryDirectory.make(prefix: "h2")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "multiplexed".write(toFile: directory + "/body.txt", atomically: true, encoding: .utf8)
        let made = try await Command.run([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem",
        ])
        try #require(made.status == 0, "openssl: \(made.output)")
        let port = try FreePort.next()
        let process = Process()
        // Through `env --default-signal`: the test runner ignores SIGTERM, and children inherit that.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--default-signal", "/usr/sbin/nghttpd", "--htdocs=\(directory)", "--address=127.0.0.1", String(port), directory + "/key.pem", directory + "/cert.pem"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        var listening = false
        for _ in 0..<100 where !listening {
            listening = (try? RawHTTPConnection(port: port)) != nil
            if !listening { try await Task.sleep(for: .milliseconds(50)) }
        }
        try #require(listening, "nghttpd did not start")
        try await body(port, directory + "/cert.pem")
    }

    @Test func overTLSTheClientNegotiatesHTTP2AndMultiplexesOneConnection() async throws {
        try await withHTTP2Server { port, caFile in
            var configuration = ClientConfiguration()
            configuration.threadName = "curl-h2"
            configuration.caCertificateFile = caFile
            try await CurlClient.withClient(configuration: configuration) { client in
                let url = "https://127.0.0.1:\(port)/body.txt"
                try await withThrowingTaskGroup(of: (String, String).self) { group in
                    for _ in 0..<20 {
                        group.addTask {
                            let response = try await client.execute(ClientRequest(url: url))
                            return (response.httpVersion, String(buffer: try await response.body.collect(upTo: 64)))
                        }
                    }
                    var answers = 0
                    for try await (version, text) in group {
                        #expect(version == "2")
                        #expect(text == "multiplexed")
                        answers += 1
                    }
                    #expect(answers == 20)
                }
                #expect(socketsConnected(toPort: port) == 1, "20 concurrent requests share one HTTP/2 connection")
            }
        }
    }

    @Test func aCertificateFromAnUnknownCAIsATLSError() async throws {
        try await withHTTP2Server { port, _ in
            var configuration = ClientConfiguration()
            configuration.threadName = "curl-tls"
            configuration.retry = .none
            try await CurlClient.withClient(configuration: configuration) { client in
                await #expect(throws: CurlHTTPError.tls) {
                    _ = try await client.execute(ClientRequest(url: "https://127.0.0.1:\(port)/body.txt"))
                }
            }
        }
    }
}
