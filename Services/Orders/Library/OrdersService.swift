import ServiceKit

/// The orders service: orders placed with stock reserved through catalog, idempotent, with
/// compensation that survives catalog being down and orders crashing.
public enum OrdersService {
    /// What `orders`' executable runs and what tests build in-process.
    public static let definition: ServiceDefinition = {
        var definition = ServiceDefinition(
            name: "orders",
            defaultPort: 8083,
            defaultAdminPort: 9083,
            peers: [
                PeerDeclaration("users", defaultURL: "http://127.0.0.1:8081"),
                PeerDeclaration("catalog", defaultURL: "http://127.0.0.1:8082", required: true),
            ],
            migrations: OrdersMigrations.all
        ) { router, dependencies in
            router.provide(TokenVerifier.issuedBy(try dependencies.peers.peer("users"), configuration: dependencies.configuration, logger: dependencies.logger))
            let store = OrderStore(database: dependencies.database)
            router.provide(store)
            OrderRoutes(compensator: try compensator(dependencies)).register(router)
        }
        definition.services = { dependencies in
            (try? compensator(dependencies)).map { [$0] } ?? []
        }
        return definition
    }()

    static func compensator(_ dependencies: ServiceDependencies) throws -> Compensator {
        Compensator(store: OrderStore(database: dependencies.database), catalog: try dependencies.peers.peer("catalog"), logger: dependencies.logger)
    }
}
