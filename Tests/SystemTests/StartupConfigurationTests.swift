import Foundation
import ServiceKitTesting
import Testing

/// A bad value stops start-up with exit code 2 and one clear line on stderr.
@Suite struct StartupConfigurationTests {
    @Test(arguments: [
        ("PORT", "http"), ("ADMIN_PORT", "99999"), ("DATABASE_URL", "mongodb://db/x"), ("LOG_LEVEL", "chatty"),
        ("SHUTDOWN_DELAY", "a while"), ("MAX_BODY_BYTES", "lots"), ("RATE_LIMIT_RPS", "-1"), ("REQUEST_TIMEOUT", "soon"),
    ])
    func aBadVariableExitsWithCode2AndOneLineNamingIt(variable: String, value: String) async throws {
        let catalog = try ServiceProcess("catalog", environment: [variable: value])
        let status = await catalog.waitForExit(timeout: .seconds(20))
        #expect(status == 2)
        let lines = catalog.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(catalog.stderr)")
        #expect(lines.first?.contains(variable) == true)
        #expect(lines.first?.contains(value) == true)
        #expect(catalog.stdoutLines.isEmpty, "stdout carries only JSON logs, and none before configuration")
    }
}
