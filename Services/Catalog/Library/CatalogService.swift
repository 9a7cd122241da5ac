import ServiceKit

/// The catalog service: items with stock, tags and an image, reserved by orders.
public enum CatalogService {
    /// What `catalog`'s executable runs and what tests build in-process.
    public static let definition = ServiceDefinition(
        name: "catalog",
        defaultPort: 8082,
        defaultAdminPort: 9082,
        // Not required for readiness: reads need no token, and writes go on with the last keys
        // fetched while users is down.
        peers: [PeerDeclaration("users", defaultURL: "http://127.0.0.1:8081")],
        migrations: CatalogMigrations.all
    ) { router, dependencies in
        router.provide(TokenVerifier.issuedBy(try dependencies.peers.peer("users"), configuration: dependencies.configuration, logger: dependencies.logger))
        let store = ItemStore(database: dependencies.database)
        let images = ImageStore(directory: dependencies.configuration.dataDirectory + "/catalog-images")
        router.provide(store)
        router.provide(images)
        ItemRoutes().register(router)
    }
}
