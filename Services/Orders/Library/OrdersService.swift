import ServiceKit

/// The orders service: orders placed with stock reserved through catalog, idempotent, with
/// compensation that survives catalog being down and orders crashing, and `order.created` events
/// published from an outbox to `/ws/orders`.
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
            _ = try OrdersSettings.load(dependencies.configuration)
            router.provide(TokenVerifier.issuedBy(try dependencies.peers.peer("users"), configuration: dependencies.configuration, logger: dependencies.logger))
            router.provide(OrderStore(database: dependencies.database))
            OrderRoutes(compensator: try compensator(dependencies), publisher: publisher(dependencies)).register(router)
        }
        definition.services = { dependencies in
            ((try? compensator(dependencies)).map { [$0] } ?? []) + [publisher(dependencies)]
        }
        definition.readinessChecks = { dependencies in [publisher(dependencies).readinessCheck] }
        definition.webSockets = { dependencies in
            [hub(dependencies).route(store: OrderStore(database: dependencies.database))]
        }
        return definition
    }()

    static func compensator(_ dependencies: ServiceDependencies) throws -> Compensator {
        let catalog = try dependencies.peers.peer("catalog")
        return dependencies.shared.value {
            Compensator(store: OrderStore(database: dependencies.database), catalog: catalog, logger: dependencies.logger)
        }
    }

    static func hub(_ dependencies: ServiceDependencies) -> EventHub {
        dependencies.shared.value {
            let settings = (try? OrdersSettings.load(dependencies.configuration)) ?? OrdersSettings()
            return EventHub(bufferSize: settings.eventsClientBuffer, closeGrace: settings.eventsCloseGrace, registry: dependencies.metrics.registry)
        }
    }

    static func publisher(_ dependencies: ServiceDependencies) -> OutboxPublisher {
        dependencies.shared.value {
            OutboxPublisher(
                store: OrderStore(database: dependencies.database), hub: hub(dependencies), logger: dependencies.logger,
                interval: ((try? OrdersSettings.load(dependencies.configuration)) ?? OrdersSettings()).outboxPollInterval
            )
        }
    }
}
