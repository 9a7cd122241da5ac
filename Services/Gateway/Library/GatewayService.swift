import ServiceKit

/// The gateway: what the fleet's users query. Aggregations across users, catalog and orders
/// under one deadline with degraded answers, a streaming proxy to each service, `/api/status`,
/// and one OpenAPI document for the whole fleet.
///
/// No peer is a readiness check: a gateway that turned unready when one service went down would
/// be restarted or unrouted with it and take every other service's traffic down too (cascading
/// failure); it answers degraded instead, and `/api/status` says what is missing.
public enum GatewayService {
    /// What `gateway`'s executable runs and what tests build in-process.
    public static let definition: ServiceDefinition = {
        var definition = ServiceDefinition(
            name: "gateway",
            defaultPort: 8080,
            defaultAdminPort: 9080,
            peers: [
                PeerDeclaration("users", defaultURL: "http://127.0.0.1:8081"),
                PeerDeclaration("catalog", defaultURL: "http://127.0.0.1:8082"),
                PeerDeclaration("orders", defaultURL: "http://127.0.0.1:8083"),
            ]
        ) { router, dependencies in
            let fleet = try fleet(dependencies)
            AggregateRoutes(fleet: fleet).register(router)
            ProxyRoutes(fleet: fleet).register(router)
        }
        // The proxy streams encoded uploads to the service as they came (a gzip body decoded here
        // would be capped at the gateway's own MAX_BODY_BYTES).
        definition.decodesRequestBodies = false
        definition.document = { dependencies in
            let document = FleetDocument(fleet: try fleet(dependencies))
            return { own in try await document.compose(own: own) }
        }
        return definition
    }()

    static func fleet(_ dependencies: ServiceDependencies) throws -> FleetCalls {
        let settings = try GatewaySettings.load(dependencies.configuration)
        let peers = dependencies.peers
        return FleetCalls(
            users: try peers.peer("users"), catalog: try peers.peer("catalog"), orders: try peers.peer("orders"),
            admin: ["users", "catalog", "orders"].map { ($0, settings.adminURLs[$0] ?? "") },
            settings: settings)
    }
}
