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

/// The users service's own settings are checked at start-up too, with the same one line.
@Suite struct UsersStartupConfigurationTests {
    @Test(arguments: [
        ("BCRYPT_COST", "3"), ("BCRYPT_COST", "32"), ("JWT_TTL", "0"), ("JWT_PRIVATE_KEY_FILE", "/nonexistent/key.pem"),
        ("JWT_NEXT_KEY_FILE", "/nonexistent/next.pem"), ("JWT_LEEWAY", "forever"), ("LOGIN_MAX_FAILURES", "0"),
    ])
    func aBadUsersVariableExitsWithCode2AndOneLineNamingIt(variable: String, value: String) async throws {
        let users = try ServiceProcess("users", environment: [variable: value])
        let status = await users.waitForExit(timeout: .seconds(20))
        #expect(status == 2)
        let lines = users.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(users.stderr)")
        #expect(lines.first?.contains(variable) == true)
        #expect(lines.first?.contains(value) == true)
    }

    @Test func aPrivateKeyThatIsNotPEMExits2WithoutEchoingTheSecret() async throws {
        let secret = "MHcCAQEEIBogus-not-a-key-at-all"
        let users = try ServiceProcess("users", environment: ["JWT_PRIVATE_KEY": secret])
        #expect(await users.waitForExit(timeout: .seconds(20)) == 2)
        #expect(users.stderr.contains("JWT_PRIVATE_KEY"))
        #expect(!users.stderr.contains(secret))
        #expect(!users.stdoutLines.joined().contains(secret))
    }
}
