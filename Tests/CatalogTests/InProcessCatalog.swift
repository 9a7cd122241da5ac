import Catalog
import Foundation
import ServiceKit
import ServiceKitTesting

/// The catalog in-process (`InProcessService.with`) with its `users` peer configured: catalog's
/// router builds a token verifier on that peer, and a service without the peer's URL cannot build
/// its router at all. Tests that write override the verifier (`TestIssuer.overrides()`), and reads
/// need none, so nothing is ever sent to that URL (the discard port, where nothing listens).
enum InProcessCatalog {
    static let usersURL = URL(string: "http://127.0.0.1:9")!

    static func with<Value>(
        database: DatabaseURL? = nil,
        configure: (inout ServiceConfiguration) -> Void = { _ in },
        _ body: (InProcessService) async throws -> Value
    ) async throws -> Value {
        try await InProcessService.with(CatalogService.definition, database: database, configure: { configuration in
            configuration.peers["users"] = usersURL
            configure(&configuration)
        }, body)
    }
}
