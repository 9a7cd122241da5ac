import Foundation
import Logging
import ServiceKit
import Testing

@Suite struct ConfigurationTests {
    func load(_ env: [String: String]) throws -> ServiceConfiguration {
        try ServiceConfiguration.load(
            service: "demo", defaultPort: 8090, defaultAdminPort: 9090,
            peers: [PeerDeclaration("users"), PeerDeclaration("catalog"), PeerDeclaration("orders")], environment: EnvironmentReader(env))
    }

    @Test func defaultsNeedNoVariables() throws {
        let configuration = try load([:])
        #expect(configuration.port == 8090)
        #expect(configuration.adminPort == 9090)
        #expect(configuration.database == .sqlite(path: ".data/demo.db"))
        #expect(configuration.logLevel == .info)
        #expect(configuration.maxBodyBytes == 1 << 20)
        #expect(configuration.maxUploadBytes == 10 << 20)
        #expect(configuration.uploadSpoolBytes == 1 << 20)
        #expect(configuration.docsAssets == .default)
        #expect(configuration.rateLimit == nil)
    }

    @Test(arguments: [("2", 2.0), ("2s", 2.0), ("1.5s", 1.5), ("500ms", 0.5), ("0", 0.0), ("1m", 60.0)])
    func durationsAcceptSecondsAndMilliseconds(text: String, seconds: Double) throws {
        let configuration = try load(["SHUTDOWN_DELAY": text])
        #expect(abs(configuration.shutdownDelay.seconds - seconds) < 1e-9)
    }

    @Test(arguments: [
        ("PORT", "eighty"), ("PORT", "70000"), ("PORT", "-1"),
        ("ADMIN_PORT", "x"), ("ADMIN_PORT", "65536"),
        ("DATABASE_URL", "mysql://localhost/db"), ("DATABASE_URL", "sqlite://"), ("DATABASE_URL", "postgres:///nohost"),
        ("DATABASE_URL", "postgres://u:p@host:99999/db"),
        ("LOG_LEVEL", "loud"),
        ("SHUTDOWN_DELAY", "soon"), ("SHUTDOWN_DELAY", "-2s"), ("SHUTDOWN_TIMEOUT", "5 parsecs"),
        ("REQUEST_TIMEOUT", "abc"),
        ("MAX_BODY_BYTES", "0"), ("MAX_UPLOAD_BYTES", "lots"), ("UPLOAD_SPOOL_BYTES", "0"), ("UPLOAD_SPOOL_BYTES", "1MiB"),
        ("DOCS_SWAGGER_JS_URL", "cdn/swagger.js"), ("DOCS_SWAGGER_CSS_URL", "file:///ui.css"), ("DOCS_REDOC_JS_URL", "redoc"),
        ("USERS_URL", "not a url"), ("CATALOG_URL", "ftp://catalog"), ("ORDERS_URL", "http://"),
        ("RATE_LIMIT_RPS", "fast"), ("RATE_LIMIT_BURST", "3"), ("PEER_TIMEOUT", "never"), ("BCRYPT_COST", "99"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"), ("ACCESS_LOG", "sometimes"),
    ])
    func aBadValueIsRefusedNamingTheVariable(variable: String, value: String) throws {
        let error = #expect(throws: ConfigurationError.self) { try load([variable: value]) }
        #expect(error?.variable == variable)
        #expect(error?.description.contains(variable) == true)
    }

    @Test func theSpoolThresholdAndTheDocsAssetsAreReadFromTheEnvironment() throws {
        let configuration = try load([
            "UPLOAD_SPOOL_BYTES": "65536", "DOCS_SWAGGER_JS_URL": "https://mirror/s.js",
            "DOCS_SWAGGER_CSS_URL": "https://mirror/s.css", "DOCS_REDOC_JS_URL": "https://mirror/r.js",
        ])
        #expect(configuration.uploadSpoolBytes == 65536)
        #expect(configuration.docsAssets == DocsAssets(swaggerJS: "https://mirror/s.js", swaggerCSS: "https://mirror/s.css", redocJS: "https://mirror/r.js"))
        #expect(configuration.maskedEnvironment["UPLOAD_SPOOL_BYTES"] == "65536")
    }

    @Test func theErrorLineShowsNoPasswordOfABadDatabaseURL() throws {
        let error = #expect(throws: ConfigurationError.self) { try load(["DATABASE_URL": "postgres://user:hunter2@host:99999/db"]) }
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test func databaseURLsNameRelativeAbsoluteAndPostgresTargets() throws {
        #expect(try DatabaseURL(parsing: "sqlite:///data/x.db") == .sqlite(path: "data/x.db"))
        #expect(try DatabaseURL(parsing: "sqlite:////var/lib/x.db") == .sqlite(path: "/var/lib/x.db"))
        #expect(try DatabaseURL(parsing: "postgres://u:p@h:5432/db") == .postgres(url: "postgres://u:p@h:5432/db"))
    }

    @Test func infoMasksSecretsAndURLPasswords() throws {
        let configuration = try load([
            "DATABASE_URL": "postgres://fleet:s3cret@db:5432/fleet", "JWT_PRIVATE_KEY": "-----BEGIN", "LOG_LEVEL": "debug",
            "UNRELATED": "x",
        ])
        let shown = configuration.maskedEnvironment
        #expect(shown["DATABASE_URL"] == "postgres://fleet:***@db:5432/fleet")
        #expect(shown["JWT_PRIVATE_KEY"] == "***")
        #expect(shown["LOG_LEVEL"] == "debug")
        #expect(shown["UNRELATED"] == nil)
    }

    @Test func warnIsAcceptedForWarning() throws {
        #expect(try load(["LOG_LEVEL": "warn"]).logLevel == .warning)
        #expect(try load(["LOG_LEVEL": "TRACE"]).logLevel == .trace)
    }
}
