import ServiceKit

/// The catalog service: items with stock, tags and an image, reserved by orders.
public enum CatalogService {
    /// What `catalog`'s executable runs and what tests build in-process.
    public static let definition = ServiceDefinition(
        name: "catalog",
        defaultPort: 8082,
        defaultAdminPort: 9082,
        migrations: CatalogMigrations.all
    ) { router, dependencies in
        let store = ItemStore(database: dependencies.database)
        let images = ImageStore(directory: dependencies.configuration.dataDirectory + "/catalog-images")
        router.provide(store)
        router.provide(images)
        ItemRoutes().register(router)
    }
}
